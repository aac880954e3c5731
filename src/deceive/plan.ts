import { randomBytes, randomInt } from 'node:crypto';
import type { Baseline } from '../discover/baseline.js';
import type { Asset, InventorySnapshot } from '../discover/model.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import type { DecoySet } from '../policy/decoy-model.js';
import type { Policy } from '../policy/model.js';
import { deriveIdentity, servicesOf } from './derive.js';
import type { DecoyIdentity } from './identity-model.js';
import { Rng } from './random.js';
import { rotationEpoch, slots, type Slot } from './rotation.js';

export interface PlannedDecoy {
  slot: Slot;
  identity: DecoyIdentity;
}

/**
 * The decoys that answer at `ts`: for each set its period's addresses, each cloned from one of the zone's
 * identified devices (the set's `clone:` list, or any device of the zone that disclosed its identity).
 */
export function planDecoys(
  policy: Policy,
  inventory: InventorySnapshot,
  baseline: Baseline,
  secret: string,
  ts: number,
  /** Extra moves asked for by hand (weir decoy run on SIGUSR2) within the current period. */
  bump = 0,
  /** Pool addresses a device holds (seen in the inventory, answered a probe, claimed one by ARP): never a decoy's. */
  avoid: ReadonlySet<string> = new Set(),
): PlannedDecoy[] {
  const compiled = new CompiledPolicy(policy);
  const out: PlannedDecoy[] = [];
  for (const set of policy.decoys ?? []) {
    const zone = inventory.assets.filter((a) =>
      a.ips.some((ip) => compiled.zoneOf(ip)?.name === set.zone),
    );
    const epoch = rotationEpoch(set, ts, policy.windows) + bump;
    for (const slot of slots(set, epoch, secret, avoid))
      out.push({ slot, identity: identityFor(set, slot, zone, baseline) });
  }
  return out;
}

/** Cover probes per decoy placed: the probes a listener hears name this many other pool addresses per decoy. */
export const COVERS_PER_DECOY = 3;
/** At most this many cover probes per set and placement (each is 3 broadcast ARP frames). */
export const MAX_COVERS_PER_SET = 16;

/** A probe for a pool address no decoy takes now, from a MAC drawn as a decoy's would be. */
export interface CoverProbe {
  set: string;
  ip: string;
  mac: string;
}

/**
 * A MAC to probe `ip` of `set` from, drawn at random as a decoy's would be (the clone's OUI block, unused in the
 * zone): a cover probe or a re-probe looks like a decoy's own on the wire.
 */
function probeMac(set: DecoySet, ip: string, zone: readonly Asset[], baseline: Baseline): string {
  const slot: Slot = {
    set: set.name,
    zone: set.zone,
    slot: -1,
    epoch: 0,
    ip,
    // Not the installation's seeded draw: these must not be predictable from anything.
    seed: randomBytes(16).toString('hex'),
    httpPort: 80,
  };
  return identityFor(set, slot, zone, baseline).mac;
}

/** The probes for pool addresses no decoy takes: each its set, address and a MAC of the decoys' kind. */
export class PoolProbes {
  private readonly compiled: CompiledPolicy;

  constructor(
    private readonly policy: Policy,
    private readonly inventory: InventorySnapshot,
    private readonly baseline: Baseline,
  ) {
    this.compiled = new CompiledPolicy(policy);
  }

  private zone(set: DecoySet): Asset[] {
    return this.inventory.assets.filter((a) =>
      a.ips.some((ip) => this.compiled.zoneOf(ip)?.name === set.zone),
    );
  }

  /** A probe for `ip` (a re-probe of a claimed address); null when no set's pool holds it any more. */
  of(ip: string): CoverProbe | null {
    const set = (this.policy.decoys ?? []).find((s) => s.pool.includes(ip));
    return set
      ? { set: set.name, ip, mac: probeMac(set, ip, this.zone(set), this.baseline) }
      : null;
  }

  /**
   * The RFC 5227 probes that go out beside the decoys' own: for each new decoy of a set, COVERS_PER_DECOY other
   * free pool addresses of the set (at random, with MACs of the decoys' kind), so a passive listener hears a
   * superset of the pool probed and cannot tell the drawn addresses from the rest; learning which answer means
   * asking, and asking a decoy is a decoy_contact. `busy` are the decoys' addresses (running or placed now) and
   * `avoid` the held ones: neither gets a cover probe.
   */
  covers(
    fresh: readonly PlannedDecoy[],
    busy: ReadonlySet<string>,
    avoid: ReadonlySet<string>,
  ): CoverProbe[] {
    const out: CoverProbe[] = [];
    for (const set of this.policy.decoys ?? []) {
      const n = fresh.filter((p) => p.slot.set === set.name).length;
      if (n === 0) continue;
      const free = set.pool.filter((ip) => !busy.has(ip) && !avoid.has(ip));
      const zone = this.zone(set);
      for (let k = Math.min(n * COVERS_PER_DECOY, MAX_COVERS_PER_SET, free.length); k > 0; k--) {
        const ip = free.splice(randomInt(free.length), 1)[0]!;
        out.push({ set: set.name, ip, mac: probeMac(set, ip, zone, this.baseline) });
      }
    }
    return out;
  }
}

/** Devices of the zone a set may clone: the ones it names, else every one that said who it is. */
export function cloneCandidates(set: DecoySet, zone: readonly Asset[]): Asset[] {
  if (set.clone.length) return zone.filter((a) => a.ips.some((ip) => set.clone.includes(ip)));
  return zone.filter((a) => a.identity.vendor !== undefined && servicesOf(a).length > 0);
}

export function identityFor(
  set: DecoySet,
  slot: Slot,
  zone: readonly Asset[],
  baseline: Baseline,
): DecoyIdentity {
  const rng = new Rng(slot.seed);
  const candidates = cloneCandidates(set, zone);
  const clone = candidates.length ? rng.pick(candidates) : null;
  // A decoy speaks what its original speaks (a Modbus-only PLC answering S7 would give it away), plus the web page.
  const own = clone ? servicesOf(clone) : [];
  const services = set.services.filter((s) => s === 'http' || own.length === 0 || own.includes(s));
  const values: Record<string, [number, number]> = {};
  if (clone)
    for (const e of Object.values(baseline.edges))
      if (clone.ips.includes(e.server)) Object.assign(values, e.values);
  return deriveIdentity({
    clone,
    zone,
    values,
    ip: slot.ip,
    services,
    ports: { http: slot.httpPort },
    rng,
  });
}
