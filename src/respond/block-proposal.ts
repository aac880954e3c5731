import type { Db } from '../store/db.js';
import { getDetection } from '../store/baseline-store.js';
import { insertProposal } from '../store/change-store.js';
import { appendAudit } from '../store/audit-store.js';
import { audited } from './audited.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { activePolicy, ChangeRefused } from './change-control.js';
import { NotFound } from './detection-actions.js';

/** How long a proposed block lasts when the proposer does not say. */
export const DEFAULT_BLOCK_TTL_S = 3600;

/**
 * Propose blocking the source of a detection. The roles that approve it are those of the zone it protects
 * (the destination's zone, else the source's; security when neither is zoned). The proposal and its audit
 * entry are written in one transaction: there is never one without the other.
 */
export function proposeBlock(
  db: Db,
  s: { detection: string; actor: string; ttl?: number; note?: string },
): number {
  return audited(db, () => {
    const det = getDetection(db, s.detection);
    if (det === null) throw new NotFound(`no detection ${s.detection}`);
    const active = activePolicy(db);
    if (active === null)
      throw new ChangeRefused(
        'no active policy: block proposals are approved by the roles of the zone they protect',
      );
    const cp = new CompiledPolicy(active.policy);
    const zone = cp.zoneOf(det.dst) ?? cp.zoneOf(det.src);
    const ttl = s.ttl ?? DEFAULT_BLOCK_TTL_S;
    const pid = insertProposal(db, {
      kind: 'source_block',
      zone: zone?.name ?? null,
      policySha: active.sha,
      baseSha: active.sha,
      requiredRoles: zone?.approvals ?? ['security'],
      createdBy: s.actor,
      note: s.note ?? `block ${det.src} after ${det.type}`,
      doc: { ip: det.src, ttl_s: ttl, detection: s.detection },
    });
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.created',
      subject: `proposal ${pid}`,
      details: { kind: 'source_block', ip: det.src, ttl_s: ttl, detection: s.detection },
    });
    return pid;
  });
}
