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
