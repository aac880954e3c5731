/**
 * The vulnerability report over a store: its assets, its advisories and its active policy's maintenance
 * windows. The matching index is kept per store handle and rebuilt only when advisories change.
 */
import type { Db } from '../store/db.js';
import {
  advisoriesStamp,
  loadAdvisories,
  storedAssetsWithIdentity,
} from '../store/advisory-store.js';
import { activePolicy } from '../respond/change-control.js';
import { AdvisoryIndex, type Confidence } from './advisories/match.js';
import { assessVulnerabilities, type VulnerabilityReport } from './vulnerabilities.js';

const cache = new WeakMap<Db, { stamp: string; index: AdvisoryIndex }>();

export function advisoryIndexOf(db: Db): AdvisoryIndex {
  const stamp = advisoriesStamp(db);
  const hit = cache.get(db);
  if (hit && hit.stamp === stamp) return hit.index;
  const index = new AdvisoryIndex(loadAdvisories(db));
  cache.set(db, { stamp, index });
  return index;
}

export function vulnerabilityReport(
  db: Db,
  o: { minConfidence?: Confidence; now?: number } = {},
): VulnerabilityReport {
  return assessVulnerabilities(storedAssetsWithIdentity(db), advisoryIndexOf(db), {
    minConfidence: o.minConfidence,
    now: o.now,
    policy: activePolicy(db)?.policy ?? null,
  });
}
