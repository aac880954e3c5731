import type { Baseline } from '../discover/baseline.js';
import type { InventorySnapshot } from '../discover/model.js';
import type { DecoySet } from './decoy-model.js';

/** A decoy address that normal traffic uses: the decoys cannot start, because their contacts would be false. */
export interface PlacementProblem {
  set: string;
  address: string;
  message: string;
}

/**
 * Decoys sit only on addresses the baseline never saw: as a device, or at either end of any learned flow. That
 * is what makes decoy_contact impossible for normal traffic to produce; the policy file alone cannot know it.
 */
export function placementProblems(
  sets: readonly DecoySet[],
  baseline: Baseline,
): PlacementProblem[] {
  const used = new Map<string, string>();
  for (const e of Object.values(baseline.edges)) {
    const flow = `${e.client} → ${e.server} ${e.transport}/${e.port}`;
    if (!used.has(e.client)) used.set(e.client, flow);
    if (!used.has(e.server)) used.set(e.server, flow);
  }
  const assets = new Set(baseline.assets);
  const out: PlacementProblem[] = [];
  for (const s of sets)
    for (const a of s.pool) {
      const flow = used.get(a);
      if (flow !== undefined)
        out.push({
          set: s.name,
          address: a,
          message: `decoy set '${s.name}': ${a} is used by baseline flow ${flow} — a decoy must sit on an address no baseline flow uses`,
        });
      else if (assets.has(a) || baseline.macs[a] !== undefined)
        out.push({
          set: s.name,
          address: a,
          message: `decoy set '${s.name}': ${a} is a device of baseline ${baseline.version} — a decoy must sit on an unused address`,
        });
    }
  return out;
}

/** A pool address a device of the inventory holds: passed over by the decoys, never a policy error. */
export interface HeldAddress {
  set: string;
  address: string;
  /** The device's MAC (null when discovery could not tell it). */
  mac: string | null;
  message: string;
}

/**
 * Pool addresses the live inventory knows as a device's (commissioned, replaced or leased since the baseline, or
 * a standby seen once): a decoy there would answer ARP beside it and take its traffic. The decoys' own replies
 * make inventory entries too; `decoyMacs` (address → the MACs decoys wore there) tells those apart.
 */
export function heldAddresses(
  sets: readonly DecoySet[],
  inventory: InventorySnapshot,
  decoyMacs: ReadonlyMap<string, ReadonlySet<string>>,
): HeldAddress[] {
  const pool = new Set(sets.flatMap((s) => s.pool));
  const holder = new Map<string, string | null>();
  for (const a of inventory.assets)
    for (const ip of a.ips)
      if (pool.has(ip) && !(a.mac !== null && decoyMacs.get(ip)?.has(a.mac))) holder.set(ip, a.mac);
  const out: HeldAddress[] = [];
  for (const s of sets)
    for (const address of s.pool)
      if (holder.has(address)) {
        const mac = holder.get(address)!;
        out.push({
          set: s.name,
          address,
          mac,
          message: `decoy set '${s.name}': ${address} is held by ${mac ?? 'a device'} in the inventory (not in the baseline): no decoy takes it`,
        });
      }
  return out;
}
