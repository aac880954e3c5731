import type { Db } from '../store/db.js';
import { TrafficSeries } from '../assess/traffic.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { activePolicy } from './change-control.js';

/** Zone names come from the active policy; without one, the whole plant counts as one zone. */
export const WHOLE_PLANT = 'plant';

export function zoneNamer(db: Db): (ip: string) => string | null {
  const a = activePolicy(db);
  if (a === null) return () => WHOLE_PLANT;
  const cp = new CompiledPolicy(a.policy);
  return (ip) => cp.zoneOf(ip)?.name ?? null;
}

export function trafficFor(db: Db): TrafficSeries {
  return new TrafficSeries(zoneNamer(db));
}
