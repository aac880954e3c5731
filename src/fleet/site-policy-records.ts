/**
 * A site's change control as records for the manager: its active policy (the text, by hash: zones with their
 * ladder modes, conduits, groups and playbooks are read from it), its change proposals with their approvals,
 * and what its playbooks did. The site side reads them from its store as (key, mark, doc) rows for the site
 * publisher; the manager side checks each one's shape before it is kept. A policy is kept only when its text
 * hashes to the hash it names and parses as a policy: the manager derives zones from that text itself, never
 * from anything else the record says, and only ever applies a site's zones to that same site's assets.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';
import { proposalsWithApprovals } from '../store/change-store.js';
import { playbookActionFromRaw, type PlaybookActionRaw } from '../store/playbook-store.js';
import { parsePolicy } from '../policy/load.js';
import type { Policy } from '../policy/model.js';

/** One row for the site publisher: the record's key, its change mark (null: read in full every tick), the document. */
export interface SourceRow {
  key: string;
  mark: number | string;
  doc: string;
}

/** The key of a site's one active policy record. */
export const ACTIVE_POLICY_KEY = 'active';

/** What a site sends of its active policy. */
export interface PolicyRecordDoc {
  sha: string;
  source: string;
  text: string;
  appliedAt: string;
  proposalId: number | null;
}

/** The site's active policy as one row (none without an active policy: a tombstone goes out). */
export function activePolicyRows(store: Db): SourceRow[] {
  const r = store
    .prepare(
      `SELECT a.sha256 AS sha, a.proposal_id AS proposalId, a.applied_at AS appliedAt, p.source, p.text
       FROM active_policy a JOIN policies p ON p.sha256 = a.sha256 WHERE a.id = 1`,
    )
    .get() as PolicyRecordDoc | undefined;
  if (r === undefined) return [];
  const doc: PolicyRecordDoc = {
    sha: r.sha,
    source: r.source,
    text: r.text,
    appliedAt: r.appliedAt,
    proposalId: r.proposalId,
  };
  return [{ key: ACTIVE_POLICY_KEY, mark: 0, doc: JSON.stringify(doc) }];
}

/** Every change proposal with its approvals (few: read whole each tick, sent only when one changed). */
export function proposalRows(store: Db): SourceRow[] {
  return proposalsWithApprovals(store).map((p) => ({
    key: String(p.id),
    mark: 0,
    doc: JSON.stringify(p),
  }));
}

/** Playbook actions, by when they were decided (an undo changes a row without moving it: the full sweep sends it). */
export const PLAYBOOK_SQL = 'SELECT id AS key, at AS mark, * FROM playbook_actions';

/** A playbook_actions row as the site's store holds it, as the document sent (details parsed). */
export function playbookRow(r: Record<string, unknown>): SourceRow {
  let details: unknown = {};
  try {
    details = JSON.parse(String(r.details));
  } catch {
    // kept as no details
  }
  const doc = playbookActionFromRaw(
    r as unknown as PlaybookActionRaw,
    details as Record<string, unknown>,
  );
  return { key: String(r.key), mark: r.mark as number, doc: JSON.stringify(doc) };
}

// --- Manager side: the shape of what a site sent, or a reason to refuse it. ---

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const textOrNull = (v: unknown, max: number): boolean => v === null || text(v, max);
const numOrNull = (v: unknown): boolean =>
  v === null || (typeof v === 'number' && Number.isFinite(v));
const HEX64 = /^[0-9a-f]{64}$/;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const PROPOSAL_KINDS = ['policy_change', 'zone_promotion', 'source_block'];
const PROPOSAL_STATUS = ['open', 'approved', 'applied', 'rejected', 'withdrawn'];
const ACTION_MODES = ['simulate', 'act'];
const ACTION_KINDS = ['block_source', 'revoke_permits', 'notify'];
const ACTION_STATUS = ['done', 'simulated', 'refused', 'failed', 'undone'];

/** Why a document of that type and key is refused, or null when it is kept. */
export function policyDocProblem(
  type: string,
  key: string,
  doc: Record<string, unknown>,
): string | null {
  if (type === 'policy') return policyProblem(key, doc);
  if (type === 'proposal') return proposalProblem(key, doc);
  if (type === 'playbook') return actionProblem(key, doc);
  return null;
}

function policyProblem(key: string, d: Record<string, unknown>): string | null {
  if (key !== ACTIVE_POLICY_KEY)
    return `a policy record keyed ${key.slice(0, 40)}, not the active one`;
  if (typeof d.sha !== 'string' || !HEX64.test(d.sha)) return 'policy hash is not a hash';
  if (!text(d.text, 1 << 20) || !text(d.source, 4096)) return 'no policy text or source';
  if (!text(d.appliedAt, 64) || !(d.proposalId === null || Number.isSafeInteger(d.proposalId)))
    return 'bad applied time or proposal';
  if (sha256(d.text) !== d.sha) return 'policy text does not match its hash';
  const r = parsePolicy(d.text, d.source);
  if (!r.ok)
    return `policy does not parse: ${r.errors
      .slice(0, 2)
      .map((e) => e.message)
      .join('; ')
      .slice(0, 150)}`;
  return null;
}

function proposalProblem(key: string, d: Record<string, unknown>): string | null {
  if (!Number.isSafeInteger(d.id) || String(d.id) !== key) return "key is not the proposal's id";
  if (!PROPOSAL_KINDS.includes(d.kind as string)) return 'unknown proposal kind';
  if (!PROPOSAL_STATUS.includes(d.status as string)) return 'unknown proposal status';
  if (!textOrNull(d.zone, 64) || !text(d.policySha, 64) || !textOrNull(d.baseSha, 64))
    return 'bad zone or policy hash';
  if (!text(d.createdBy, 200) || !text(d.createdAt, 64) || !text(d.note, 4096))
    return 'bad author, time or note';
  if (!Array.isArray(d.requiredRoles) || !d.requiredRoles.every((r) => text(r, 32)))
    return 'bad required roles';
  if (!isObj(d.doc)) return 'no proposal document';
  if (
    !Array.isArray(d.approvals) ||
    !d.approvals.every(
      (a) =>
        isObj(a) && text(a.user, 200) && text(a.role, 32) && text(a.at, 64) && text(a.note, 4096),
    )
  )
    return 'bad approvals';
  return null;
}

function actionProblem(key: string, d: Record<string, unknown>): string | null {
  if (d.id !== key || !text(d.id, 200)) return "key is not the action's id";
  if (typeof d.at !== 'number' || !Number.isFinite(d.at)) return 'no time';
  for (const f of ['zone', 'playbook', 'target', 'detectionId', 'detectionType', 'reason'])
    if (!text(d[f], 4096)) return `no ${f}`;
  if (!ACTION_MODES.includes(d.mode as string)) return 'unknown mode';
  if (!ACTION_KINDS.includes(d.kind as string)) return 'unknown action';
  if (!ACTION_STATUS.includes(d.status as string)) return 'unknown status';
  if (!numOrNull(d.ttlS) || !numOrNull(d.expiresAt)) return 'bad time to live';
  if (!textOrNull(d.undoneBy, 200) || !textOrNull(d.undoneAt, 64)) return 'bad undo';
  return null;
}

/** A kept policy record's text parsed again (it parsed when it was kept; null if it no longer does). */
export function parseKept(doc: PolicyRecordDoc): Policy | null {
  const r = parsePolicy(doc.text, doc.source);
  return r.ok ? r.policy : null;
}
