import { createHash } from 'node:crypto';
import type { Detection, Severity } from '../detect/detection.js';
import { techniquesFor } from '../detect/attack-map.js';
import type { ArpClaim } from './arp-claim.js';

/** How long a claimed pool address is left to its claimer before a decoy probes it again (doubling per repeat). */
export const REPROBE_AFTER_S = 600;
/** The longest wait between re-probes of an address whose claimer keeps answering. */
export const REPROBE_MAX_S = 86_400;

interface Held {
  mac: string;
  until: number;
  strikes: number;
}

/**
 * Pool addresses a device took from the decoys (it answered a probe, or claimed a running decoy's address by
 * ARP), each until a re-probe: a decoy gives way at once, but a claim is not forever. When it is due, the address
 * is probed again on its own (no decoy is moved for it): a device still there answers and keeps it for twice as
 * long; one that went silent — a forged claim, a device moved away — gives it back to the pool. So a flood of
 * forged claims costs the decoys a while, not the run, and an attacker must keep answering to keep them off.
 */
export class ClaimBook {
  private readonly book = new Map<string, Held>();

  constructor(private readonly afterS = REPROBE_AFTER_S) {}

  /** `mac` holds `address` from `now` (epoch seconds); returns the seconds until it is probed again. */
  claim(address: string, mac: string, now: number): number {
    const strikes = (this.book.get(address)?.strikes ?? 0) + 1;
    const wait = Math.min(this.afterS * 2 ** (strikes - 1), REPROBE_MAX_S);
    this.book.set(address, { mac, until: now + wait, strikes });
    return wait;
  }

  /** A re-probe could not be sent: try again after the base wait, the claim standing meanwhile. */
  postpone(address: string, now: number): void {
    const h = this.book.get(address);
    if (h !== undefined) h.until = now + this.afterS;
  }

  /** Nobody answered a probe for the address: whoever claimed it is gone. */
  release(address: string): void {
    this.book.delete(address);
  }

  /** Address → claimer, of every claim standing (due ones too, until their re-probe says otherwise). */
  held(): Map<string, string> {
    return new Map([...this.book].map(([a, h]) => [a, h.mac]));
  }

  /** Addresses whose re-probe is due at `now`. */
  due(now: number): string[] {
    return [...this.book].filter(([, h]) => h.until <= now).map(([a]) => a);
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
  /** Seconds until the address is probed again. */
  backAfterS: number;
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
    explanation: `${who} claimed decoy ${c.address} of set '${w.set}' (${c.kind} ARP): the decoy gave way and is withdrawn from the address for ${w.backAfterS} s, then probes it again.${several ? ` This MAC claimed ${w.claimedByMac.length} decoy addresses (${w.claimedByMac.join(', ')}): someone is taking the decoys off the segment, and knows where they are.` : ''}`,
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
