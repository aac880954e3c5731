/** Exposure, risk and the patch plan over a store (its inventory, advisories, detections, active policy). */
import type { Db } from '../store/db.js';
import type { Policy } from '../policy/model.js';
import { loadInventory } from '../store/inventory-store.js';
import { advisoryCount } from '../store/advisory-store.js';
import { openDetectionsByAddress } from '../store/read-store.js';
import { activePolicy } from '../respond/change-control.js';
import { exposurePaths, policyEffect, type ExposurePath, type PolicyEffect } from './exposure.js';
import { assessRisk, type AssetRisk, type ZoneRisk } from './risk.js';
import { planPatches, type PatchStep } from './patch-plan.js';
import { vulnerabilityReport } from './vuln-report.js';

export interface RiskReport {
  generatedAt: string;
  policy: string | null;
  exposure: { targets: number; paths: ExposurePath[] };
  /** With a proposed policy: which of today's paths it keeps and which it removes. */
  proposed: (PolicyEffect & { source: string }) | null;
  risk: { assets: AssetRisk[]; zones: ZoneRisk[] };
  patchPlan: PatchStep[];
}

export function riskReport(
  db: Db,
  o: { proposed?: { policy: Policy; source: string }; now?: number } = {},
): RiskReport {
  const inv = loadInventory(db);
  const active = activePolicy(db);
  const policy = active?.policy ?? null;
  const exposure = exposurePaths(inv.assets, inv.edges, policy);
  const vulns = advisoryCount(db) > 0 ? vulnerabilityReport(db, { now: o.now }) : null;
  const risk = assessRisk(inv.assets, exposure.paths, vulns, openDetectionsByAddress(db), policy);
  const proposed = o.proposed
    ? {
        source: o.proposed.source,
        // Today's paths, judged hop by hop against the proposed policy.
        ...policyEffect(exposure.paths, o.proposed.policy, inv.edges),
      }
    : null;
  return {
    generatedAt: new Date().toISOString(),
    policy: active?.source ?? null,
    exposure,
    proposed,
    risk,
    patchPlan: vulns ? planPatches(vulns, risk.assets, inv.edges) : [],
  };
}
