import { liveCapture, STARTING_STALL_AFTER_S } from '../capture/live.js';
import { arpOf, claimOf, type ArpClaim, type ArpHeard } from './arp-claim.js';

/**
 * The decoys' ear on the segment: ARP on the interface they hang off (a capture of ARP only, passive), told to
 * `onClaim` when a device other than a decoy says a decoy's address is its own. A decoy must give way then:
 * it is the one that should not be there. `onStop` hears a watch that ended without being asked, with why:
 * decoys without it would not notice a device taking their address. `onHeard` hears every ARP frame of a MAC
 * not the decoys' (claims too, after `onClaim`): what keeps a claimed address its device's.
 */
export class ArpWatch {
  /** Address → the MAC of the decoy on it. */
  private readonly watched = new Map<string, string>();
  /** Every decoy MAC of this run (placed or probing): their frames are no claim. */
  private readonly own = new Set<string>();
  private readonly abort = new AbortController();

  private constructor() {}

  /** Start capturing ARP on `iface`; resolves once the capture program listens. */
  static start(
    iface: string,
    onClaim: (c: ArpClaim) => void,
    onStop: (reason: string) => void,
    onHeard: (a: ArpHeard) => void = () => {},
  ): Promise<ArpWatch> {
    const w = new ArpWatch();
    return new Promise((resolve, reject) => {
      let listening = false;
      const slow = setTimeout(() => {
        w.abort.abort();
        reject(
          new Error(
            `the ARP watch on ${iface} did not start within ${STARTING_STALL_AFTER_S} s: decoys need it to give way to a device taking their address`,
          ),
        );
      }, STARTING_STALL_AFTER_S * 1000);
      liveCapture(
        iface,
        (f) => {
          const a = arpOf(f);
          if (a === null || w.own.has(a.mac)) return;
          const c = claimOf(a, w.watched);
          if (c !== null) onClaim(c);
          onHeard(a);
        },
        {
          bpf: 'arp',
          immediate: true,
          signal: w.abort.signal,
          onStatus: (s) => {
            // Counters come only once the program listens (weir-capture's own, tcpdump's on being asked).
            if (!listening && s.state === 'running' && s.counters !== null) {
              listening = true;
              clearTimeout(slow);
              resolve(w);
            }
          },
        },
      ).then(
        (s) => {
          clearTimeout(slow);
          if (!w.abort.signal.aborted) onStop(s.error?.reason ?? 'the capture program ended');
        },
        (e: Error) => {
          clearTimeout(slow);
          if (!listening) reject(new Error(`the ARP watch on ${iface} failed: ${e.message}`));
          else if (!w.abort.signal.aborted) onStop(e.message);
        },
      );
    });
  }

  /** A decoy MAC of this run, from before its probe on. */
  ownMac(mac: string): void {
    this.own.add(mac);
  }

  watch(address: string, mac: string): void {
    this.own.add(mac);
    this.watched.set(address, mac);
  }

  unwatch(address: string): void {
    this.watched.delete(address);
  }

  stop(): void {
    this.abort.abort();
  }
}
