/** The compliance evidence of a store, gathered for evaluateCompliance, and the report over it. */
import type { Db } from '../store/db.js';
import { approvalsOf } from '../store/change-store.js';
import { checkAudit } from '../store/audit-store.js';
import { latestBaseline } from '../store/baseline-store.js';
import { listSimulations } from '../store/read-store.js';
import { listUsers } from '../store/session-store.js';
import { loadInventory } from '../store/inventory-store.js';
import { advisoryCount } from '../store/advisory-store.js';
import { activePolicy } from '../respond/change-control.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { exposurePaths, zoneTrust } from './exposure.js';
import { vulnerabilityReport } from './vuln-report.js';
import { evaluateCompliance, type Evidence, type Requirement } from './compliance.js';

export interface ComplianceReport {
  site: string | null;
  generatedAt: string;
  /** The audit log's end when the report was made: the report is tied to this entry and hash. */
  audit: { status: string; entries: number; headSeq: number | null; headHash: string | null };
  requirements: Requirement[];
  counts: Record<string, number>;
}

export function gatherEvidence(db: Db): Evidence {
  const active = activePolicy(db);
  const inv = loadInventory(db);
  const cp = active ? new CompiledPolicy(active.policy) : null;
  const proposalId = (
    db.prepare('SELECT proposal_id AS p FROM active_policy WHERE id = 1').get() as
      | { p: number | null }
      | undefined
  )?.p;
  const approvals = proposalId ? approvalsOf(db, proposalId) : [];
  const sims = listSimulations(db, 20) as Array<Record<string, unknown>>;
  const check = checkAudit(db);
  const last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
    | { seq: number; hash: string }
    | undefined;
  const actions = Object.fromEntries(
    (
      db.prepare('SELECT action, COUNT(*) AS n FROM audit_log GROUP BY action').all() as Array<{
        action: string;
        n: number;
      }>
    ).map((r) => [r.action, r.n]),
  );
  const det = db
    .prepare(
      "SELECT COUNT(*) AS total, SUM(status = 'open') AS open, MAX(ts) AS last FROM detections",
    )
    .get() as { total: number; open: number | null; last: number | null };
  const controllers = inv.assets.filter((a) => a.role === 'plc' || a.role === 'rtu');
  const exposure = exposurePaths(inv.assets, inv.edges, active?.policy ?? null);
  const vulns = advisoryCount(db) > 0 ? vulnerabilityReport(db) : null;
  return {
    policy: active
      ? {
          source: active.source,
          sha: active.sha,
          zones: active.policy.zones.map((z) => ({
            name: z.name,
            mode: z.mode,
            securityLevel: z.securityLevel ?? null,
            lowTrust: zoneTrust(z) === 0,
          })),
          conduits: active.policy.conduits.length,
          groups: active.policy.groups.length,
          approvedBy: approvals.map((x) => `${x.user} (${x.role})`),
        }
      : null,
    simulations: sims.map((s) => ({
      id: String(s.id),
      createdAt: String(s.createdAt),
      baselineBlocked: Number(s.baselineBlocked),
    })),
    audit: {
      status: check.status,
      entries: check.entries,
      keyed: check.keyed,
      headSeq: last?.seq ?? null,
      headHash: last?.hash ?? null,
      actions,
    },
    users: listUsers(db).map((u) => ({ name: u.name, roles: u.roles })),
    baselineVersion: latestBaseline(db)?.version ?? null,
    detections: {
      total: det.total,
      open: det.open ?? 0,
      last: det.last ? new Date(det.last * 1000).toISOString() : null,
    },
    inventory: {
      assets: inv.assets.length,
      outsideZones: cp
        ? inv.assets
            .filter((a) => a.ips.length > 0 && cp.zoneOf(a.ips[0]!) === null)
            .map((a) => a.ips[0]!)
        : inv.assets.map((a) => a.ips[0] ?? a.id),
      controllers: controllers.length,
      controllersIdentified: controllers.filter(
        (a) => a.identity.vendor || a.identity.model || a.identity.firmware,
      ).length,
    },
    lowTrustWritePaths: exposure.paths
      .filter((x) => x.sourceTrust <= 0 && x.sourceZone !== null)
      .map((x) => x.summary),
    vulnerabilities: vulns
      ? {
          advisories: vulns.advisories,
          vulnerableAssets: vulns.assets.length,
          withFix: vulns.assets.filter((a) => a.fixAvailable).length,
        }
      : null,
  };
}

export function complianceReport(db: Db, now = new Date()): ComplianceReport {
  const e = gatherEvidence(db);
  const requirements = evaluateCompliance(e);
  const counts: Record<string, number> = { met: 0, partly: 0, 'not met': 0, 'no evidence': 0 };
  for (const r of requirements) counts[r.status]!++;
  return {
    site: activePolicy(db)?.policy.site ?? null,
    generatedAt: now.toISOString(),
    audit: {
      status: e.audit.status,
      entries: e.audit.entries,
      headSeq: e.audit.headSeq,
      headHash: e.audit.headHash,
    },
    requirements,
    counts,
  };
}
