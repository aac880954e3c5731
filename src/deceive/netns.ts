import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import type { DecoyIdentity } from './identity-model.js';
import { probeAddress } from './probe.js';
import type { DecoyContact } from './server.js';

/** What start() found instead of a free address: the MAC of the device that answered the probe for it. */
export interface AddressHeld {
  heldBy: string;
}

const run = promisify(execFile);

/** nftables in a decoy's namespace: ARP probes (RFC 5227: sender address 0.0.0.0) get no answer. */
const IGNORE_PROBES =
  'add table arp weir_decoy; add chain arp weir_decoy in { type filter hook input priority 0; policy accept; }; add rule arp weir_decoy in arp saddr ip 0.0.0.0 drop';

/**
 * `ip` with these arguments. Asynchronous, never execFileSync: a synchronous child runs its own event loop, and a
 * probe's arping that exits meanwhile was seen left a zombie whose exit the main loop never heard, hanging the
 * placement (with cover probes, many namespaces are built while probes run).
 */
async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/**
 * One decoy on the wire: its own network namespace holding a macvlan of the sensor's interface with the
 * decoy's MAC and address, so the kernel answers ARP for it and its replies carry its own MAC, and a responder
 * process inside serving its services. Nothing of the host's own stack is touched.
 */
export class DecoyHost {
  private child: ChildProcess | null = null;

  private constructor(
    readonly ns: string,
    readonly identity: DecoyIdentity,
  ) {}

  /**
   * Build the namespace, probe the decoy's address from it (RFC 5227) and, when nobody holds it, take it and start
   * `serve` (the weir CLI's `decoy serve`, given as argv) inside; resolves once the responder listens, or with
   * the holder's MAC (and nothing left behind) when a device answered the probe. `onContact` hears each touch
   * the responder saw.
   */
  static async start(
    ns: string,
    parent: string,
    identity: DecoyIdentity,
    serve: string[],
    onContact: (c: DecoyContact) => void,
  ): Promise<DecoyHost | AddressHeld> {
    const h = new DecoyHost(ns, identity);
    try {
      await DecoyHost.build(ns, parent, identity.mac);
      const holder = await probeAddress(ns, 'eth0', identity.ip);
      if (holder !== null) {
        await h.stop();
        return { heldBy: holder };
      }
      // A device probing its own address (RFC 5227 ACD, as EtherNet/IP devices do at boot) must hear no answer
      // from a decoy, or it stays off the network: the decoy's kernel ignores ARP probes (sender 0.0.0.0), and
      // the ARP watch withdraws the decoy on the probe. No such rule, no decoy.
      await run('ip', ['netns', 'exec', ns, 'nft', IGNORE_PROBES]).catch((e: Error) => {
        throw new Error(
          `decoy ${identity.ip}: nft could not make it ignore ARP probes (${e.message.trim()}): a decoy that answers a device's address conflict detection keeps the device off the network`,
        );
      });
      await ip('-n', ns, 'addr', 'add', `${identity.ip}/32`, 'dev', 'eth0');
      // Everyone on the segment is on-link: replies find their way by ARP, as a device on the LAN does.
      await ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0');
      const c = spawn('ip', ['netns', 'exec', ns, ...serve], { stdio: ['pipe', 'pipe', 'pipe'] });
      h.child = c;
      c.stdin!.end(JSON.stringify(identity));
      let err = '';
      c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
      await new Promise<void>((resolve, reject) => {
        const lines = createInterface({ input: c.stdout! });
        let ready = false;
        lines.on('line', (l) => {
          if (!ready && l.startsWith('listening')) {
            ready = true;
            return resolve();
          }
          try {
            onContact(JSON.parse(l) as DecoyContact);
          } catch {
            /* not a contact line */
          }
        });
        c.once('exit', (code) => {
          if (!ready)
            reject(new Error(`decoy ${identity.ip} did not start (${code}): ${err.trim()}`));
        });
      });
      return h;
    } catch (e) {
      await h.stop();
      throw e;
    }
  }

  /**
   * The namespace `ns` with a macvlan of `parent` as its eth0, wearing `mac`, up and without an address: what a
   * decoy probes from, and a cover probe too (both look the same on the wire).
   */
  private static async build(ns: string, parent: string, mac: string): Promise<void> {
    await ip('netns', 'add', ns);
    // Made inside the namespace at once: no step leaves a macvlan wearing a decoy's MAC in the sensor's own
    // namespace when a later one fails (deleting the namespace deletes it).
    await ip(
      'link',
      'add',
      'link',
      parent,
      'name',
      'eth0',
      'netns',
      ns,
      'address',
      mac,
      'type',
      'macvlan',
      'mode',
      'bridge',
    );
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    // IPv4 only: a link-local IPv6 address would announce the decoy (neighbour discovery, MLD) unasked.
    try {
      await ip(
        'netns',
        'exec',
        ns,
        'sh',
        '-c',
        'echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6',
      );
    } catch {
      /* a kernel without IPv6 has nothing to silence */
    }
    // Up without an address: the probe goes out with this MAC, and nothing answers for the address.
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }

  /**
   * A cover probe: the RFC 5227 probe a decoy sends, for `address` from `mac`, with no decoy after it (see
   * coverProbes); resolves with the MAC that answered (a device holds the address) or null.
   */
  static async probeOnly(
    ns: string,
    parent: string,
    mac: string,
    address: string,
  ): Promise<string | null> {
    try {
      await DecoyHost.build(ns, parent, mac);
      return await probeAddress(ns, 'eth0', address);
    } finally {
      try {
        await ip('netns', 'del', ns);
      } catch {
        /* never built */
      }
    }
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c !== null && c.exitCode === null && c.signalCode === null)
      await new Promise<void>((r) => {
        c.once('exit', () => r());
        c.kill('SIGTERM');
        setTimeout(() => c.kill('SIGKILL'), 2000).unref();
      });
    try {
      // Deleting the namespace deletes the macvlan in it.
      await ip('netns', 'del', this.ns);
    } catch {
      /* never built */
    }
  }
}
