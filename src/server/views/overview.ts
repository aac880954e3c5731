import type { Db } from '../../store/db.js';
import { latestBaseline } from '../../store/baseline-store.js';
import { activePolicySha } from '../../store/change-store.js';
import { countRows, detectionCounts } from '../../store/read-store.js';
import { activeZones } from '../../respond/zones.js';
import { enforcementView } from '../enforcement-view.js';

/**
 * The dashboard's first page: counts, the zones of the active policy, and a plain-language health line that
 * says what to look at first and what the enforcement host really runs.
 */
export function overviewOf(db: Db, stateDir: string) {
  const cp = activeZones(db);
  const counts = detectionCounts(db);
  const open = Object.values(counts.open ?? {}).reduce((a, b) => a + b, 0);
  const critical = (counts.open?.critical ?? 0) + (counts.open?.high ?? 0);
  const assets = countRows(db, 'assets');
  const zones =
    cp?.policy.zones.map((z) => ({
      name: z.name,
      mode: z.mode,
      securityLevel: z.securityLevel ?? null,
      members: z.members.length,
    })) ?? [];
  const enforcing = zones.filter((z) => z.mode === 'enforce').map((z) => z.name);
  // What blocks traffic is what the enforcement host runs, not what the policy says: say which, or "unknown".
  const enforcement = enforcementView(stateDir, activePolicySha(db));
  const health = [
    `${assets} assets on the map${cp ? ` in ${zones.length} zones` : ', no policy yet'}.`,
    open === 0
      ? 'No open detections.'
      : `${open} open detection${open === 1 ? '' : 's'}${critical ? `, ${critical} of them high or critical: look at these first` : ''}.`,
    enforcing.length
      ? `The active policy puts ${enforcing.join(', ')} in enforce.`
      : 'The active policy enforces no zone.',
    enforcement.text,
  ].join(' ');
  return {
    assets,
    edges: countRows(db, 'edges'),
    detections: counts,
    openDetections: open,
    baselineVersion: latestBaseline(db)?.version ?? null,
    zones,
    health,
    enforcement,
  };
}

/** What the enforcement host runs now, against the active policy. */
export function enforcementOf(db: Db, stateDir: string) {
  return enforcementView(stateDir, activePolicySha(db));
}
