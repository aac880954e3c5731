import type { Db } from '../store/db.js';
import { TrafficSeries } from '../discover/zone-traffic.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { activePolicySha } from '../store/change-store.js';
import { activePolicy } from './change-control.js';

/** Zone names come from the active policy; without one, the whole plant counts as one zone. */
export const WHOLE_PLANT = 'plant';

export function zoneNamer(db: Db): (ip: string) => string | null {
  const cp = activeZones(db);
  if (cp === null) return () => WHOLE_PLANT;
  return (ip) => cp.zoneOf(ip)?.name ?? null;
}

export function trafficFor(db: Db): TrafficSeries {
  return new TrafficSeries(zoneNamer(db));
}

/** The compiled active policy per store, kept while that policy stays active. */
const compiled = new WeakMap<Db, { sha: string; cp: CompiledPolicy }>();

/**
 * The active policy, compiled, or null without one. Reading and compiling a large policy takes a while: it is
 * done once per active version, not once per request.
 */
export function activeZones(db: Db): CompiledPolicy | null {
  const sha = activePolicySha(db);
  if (sha === null) return null;
  const hit = compiled.get(db);
  if (hit?.sha === sha) return hit.cp;
  const a = activePolicy(db);
  if (a === null) return null;
  const cp = new CompiledPolicy(a.policy);
  compiled.set(db, { sha: a.sha, cp });
  return cp;
}
