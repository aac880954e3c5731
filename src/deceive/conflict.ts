import { createHash } from 'node:crypto';
import type { Detection, Severity } from '../detect/detection.js';
import { techniquesFor } from '../detect/attack-map.js';
import type { ArpClaim, ArpHeard } from './arp-claim.js';

/** How long a claimed pool address is left to its claimer before a decoy probes it again (doubling per repeat). */
export const REPROBE_AFTER_S = 600;
/** The longest wait between re-probes of an address whose claimer keeps answering. */
export const REPROBE_MAX_S = 86_400;
/**
 * How long nothing may be heard from a claimer (its MAC) or for its address before an unanswered re-probe gives
 * the address back: devices are silent for ordinary reasons (powered off for maintenance, a stack that ignores
 * probes from 0.0.0.0), and one back from maintenance must not find a decoy on its address.
 */
export const RELEASE_QUIET_S = 86_400;

interface Held {
  mac: string;
  /** No re-probe before this (epoch seconds); Infinity: held for the run. */
  until: number;
  /** When the claimer's MAC or anything for the address was last heard. */
  heard: number;
  /** Claims and answered re-probes so far: each doubles the wait. */
  strikes: number;
}

/**
 * Pool addresses a device took from the decoys (it answered a probe, claimed a running decoy's address by ARP, or
 * spoke from or probed for a pool address), each until a re-probe finds it gone. A decoy gives way at once; the
 * address is probed again on its own (no decoy is moved for it) once the re-probe wait has passed (doubling each
 * time the claimer answers) and nothing was heard from the claimer or for the address for the quiet time; only an
 * unanswered probe then gives it back. A forged claim costs the decoys a while; a silent device (powered off for
 * maintenance, deaf to probes from 0.0.0.0) keeps its address; an address claimed again after it was given back (a
 * device that came back) is held for the rest of the run.
 */
export class ClaimBook {
  private readonly book = new Map<string, Held>();
  /** Addresses given back in this run: a new claim on one is a device that came back, and keeps it. */
  private readonly released = new Set<string>();

  constructor(
    private readonly afterS = REPROBE_AFTER_S,
    private readonly quietS = RELEASE_QUIET_S,
  ) {}

  /**
   * `mac` holds `address` from `now` (epoch seconds): a new claim, or a re-probe it answered. Returns the seconds
   * until it can be probed again, or null when it is held for the rest of the run (claimed a second time).
   */
  claim(address: string, mac: string, now: number): number | null {
    if (this.released.has(address)) {
      this.book.set(address, { mac, until: Infinity, heard: now, strikes: 0 });
      return null;
    }
    const strikes = (this.book.get(address)?.strikes ?? 0) + 1;
    const wait = Math.min(this.afterS * 2 ** (strikes - 1), REPROBE_MAX_S);
    this.book.set(address, { mac, until: now + wait, heard: now, strikes });
    return Math.max(wait, this.quietS);
  }

  /** Whether a device holds `address` now. */
  holds(address: string): boolean {
    return this.book.has(address);
  }

  /** An ARP frame from a MAC not the decoys': it keeps the claims of its sender MAC and of its addresses alive. */
  hear(a: ArpHeard, now: number): void {
    for (const address of [a.sender, a.target]) {
      const h = this.book.get(address);
      if (h !== undefined) h.heard = now;
    }
    for (const h of this.book.values()) if (h.mac === a.mac) h.heard = now;
  }

  /** A re-probe could not be sent: try again after the base wait, the claim standing meanwhile. */
  postpone(address: string, now: number): void {
    const h = this.book.get(address);
    if (h !== undefined && h.until !== Infinity) h.until = now + this.afterS;
  }

  /** Nobody answered a re-probe, and nothing was heard for the quiet time: whoever claimed it is gone. */
  release(address: string): void {
    if (this.book.delete(address)) this.released.add(address);
  }

  /** Address → claimer, of every claim standing (due ones too, until their re-probe says otherwise). */
  held(): Map<string, string> {
    return new Map([...this.book].map(([a, h]) => [a, h.mac]));
  }

  /** Addresses whose re-probe is due at `now`: its wait passed, and nothing heard of it for the quiet time. */
  due(now: number): string[] {
    return [...this.book]
      .filter(([, h]) => h.until <= now && now - h.heard >= this.quietS)
      .map(([a]) => a);
  }
}

/** What a withdrawal knows: the claim, the decoy it withdrew, and what the store says of the claimer. */
export interface Withdrawal {
  claim: ArpClaim;
  ts: number;
  set: string;
  zone: string;
  decoyMac: string;
  /** The claimer's MAC is a device of the inventory (with these addresses). */
  knownAs: readonly string[] | null;
  /** Every decoy address this MAC claimed in this run, this one included. */
  claimedByMac: readonly string[];
  /** Seconds until the address may be probed again; null: held for the rest of the run (claimed twice). */
  backAfterS: number | null;
}

/**
 * A decoy withdrawn because a device claimed its address, as a detection for the dashboard, the incidents and
 * the SIEM (the ARP reply that does it is no decoy contact: no one asked the decoy anything). A MAC the
 * inventory does not know is high; one claiming several decoy addresses is critical (one NIC does not take
 * several free pool addresses: that is someone clearing the decoys off the segment); a known device medium (a
 * re-addressed or misconfigured device, or one spoofed).
 */
export function conflictDetection(w: Withdrawal): Detection {
  const c = w.claim;
  const several = w.claimedByMac.length > 1;
  const severity: Severity = several ? 'critical' : w.knownAs === null ? 'high' : 'medium';
  const who =
    w.knownAs === null
      ? `${c.mac}, a MAC the inventory does not know,`
      : `${c.mac} (in the inventory as ${w.knownAs.join(', ') || 'an asset without address'})`;
  const d: Detection = {
    id: createHash('sha256')
      .update(`decoy_conflict|${c.mac}|${c.address}|${w.ts}`)
      .digest('hex')
      .slice(0, 16),
    type: 'decoy_conflict',
    severity,
    ts: w.ts,
    lastTs: w.ts,
    count: 1,
    src: c.mac,
    dst: c.address,
    protocol: 'arp',
    detail: c.address,
    zone: w.zone,
    evidence: {
      frames: [],
      fields: {
        decoy: c.address,
        decoy_mac: w.decoyMac,
        set: w.set,
        claimed_by: c.mac,
        arp: c.kind,
        claimer_known: w.knownAs !== null,
        decoys_claimed_by_mac: [...w.claimedByMac],
        withdrawn: true,
        reprobe_after_s: w.backAfterS,
      },
    },
    explanation: `${who} claimed decoy ${c.address} of set '${w.set}' (${c.kind} ARP): the decoy gave way and is withdrawn from the address ${w.backAfterS === null ? 'for the rest of the run (the address was claimed before)' : `for at least ${w.backAfterS} s: it comes back only when a re-probe goes unanswered and nothing was heard from the claimer or for the address for the quiet time`}.${several ? ` This MAC claimed ${w.claimedByMac.length} decoy addresses (${w.claimedByMac.join(', ')}): someone is taking the decoys off the segment, and knows where they are.` : ''}`,
    suggestedResponse: several
      ? 'Find the port of the claiming MAC on the switch and isolate it: it forges ARP for addresses no device holds.'
      : w.knownAs === null
        ? 'Find the device behind the MAC (switch port): a new device commissioned on a decoy pool address belongs in the inventory and out of the pool; otherwise isolate it.'
        : 'Check the device: re-addressed onto a decoy pool address, misconfigured, or spoofed.',
    techniques: [],
  };
  d.techniques = techniquesFor(d);
  return d;
}
