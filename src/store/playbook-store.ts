import type { Db } from './db.js';

/** What a playbook did or would have done for one detection (one row per action). */
export interface PlaybookActionRow {
  id: string;
  /** When it was decided (epoch seconds, wall clock). */
  at: number;
  zone: string;
  playbook: string;
  policySha: string;
  mode: 'simulate' | 'act';
  kind: 'block_source' | 'revoke_permits' | 'notify';
  /** The address blocked, the permit revoked, or the detection's source for a notice. */
  target: string;
  ttlS: number | null;
  expiresAt: number | null;
  detectionId: string;
  detectionType: string;
  /** Capture time of the frame that opened the detection. */
  detectionTs: number;
  /**
   * done: carried out; simulated: would have been (simulate mode); refused: a guard rail said no;
   * failed: the kernel refused; undone: carried out, then undone by a person.
   */
  status: 'done' | 'simulated' | 'refused' | 'failed' | 'undone';
  reason: string;
  details: Record<string, unknown>;
  undoneBy: string | null;
  undoneAt: string | null;
}

/** A playbook_actions row as the store holds it. */
export interface PlaybookActionRaw {
  id: string;
  at: number;
  zone: string;
  playbook: string;
  policy_sha: string;
  mode: string;
  kind: string;
  target: string;
  ttl_s: number | null;
  expires_at: number | null;
  detection_id: string;
  detection_type: string;
  detection_ts: number;
  status: string;
  reason: string;
  details: string;
  undone_by: string | null;
  undone_at: string | null;
}

/**
 * A stored row as an action; `details` is the row's parsed, unless the caller parsed it itself (the fleet's
 * site publisher keeps a row whose details do not parse, with none).
 */
export const playbookActionFromRaw = (
  r: PlaybookActionRaw,
  details: Record<string, unknown> = JSON.parse(r.details) as Record<string, unknown>,
): PlaybookActionRow => ({
  id: r.id,
  at: r.at,
  zone: r.zone,
  playbook: r.playbook,
  policySha: r.policy_sha,
  mode: r.mode as PlaybookActionRow['mode'],
  kind: r.kind as PlaybookActionRow['kind'],
  target: r.target,
  ttlS: r.ttl_s,
  expiresAt: r.expires_at,
  detectionId: r.detection_id,
  detectionType: r.detection_type,
  detectionTs: r.detection_ts,
  status: r.status as PlaybookActionRow['status'],
  reason: r.reason,
  details,
  undoneBy: r.undone_by,
  undoneAt: r.undone_at,
});
const fromRaw = (r: PlaybookActionRaw): PlaybookActionRow => playbookActionFromRaw(r);

export function insertPlaybookAction(db: Db, a: PlaybookActionRow): void {
  db.prepare(
    `INSERT INTO playbook_actions (id, at, zone, playbook, policy_sha, mode, kind, target, ttl_s, expires_at,
      detection_id, detection_type, detection_ts, status, reason, details, undone_by, undone_at)
     VALUES (@id, @at, @zone, @playbook, @policySha, @mode, @kind, @target, @ttlS, @expiresAt, @detectionId,
      @detectionType, @detectionTs, @status, @reason, @details, @undoneBy, @undoneAt)`,
  ).run({ ...a, details: JSON.stringify(a.details) });
}

export function getPlaybookAction(db: Db, id: string): PlaybookActionRow | null {
  const r = db.prepare('SELECT * FROM playbook_actions WHERE id = ?').get(id) as
    | PlaybookActionRaw
    | undefined;
  return r ? fromRaw(r) : null;
}

/** Most recent first. */
export function listPlaybookActions(db: Db, limit = 200): PlaybookActionRow[] {
  return (
    db
      .prepare('SELECT * FROM playbook_actions ORDER BY at DESC, id DESC LIMIT ?')
      .all(limit) as PlaybookActionRaw[]
  ).map(fromRaw);
}

/**
 * Changes a playbook made (or simulated) on the host since `since` — blocks and permit revocations: what its rate
 * limit counts. Refusals and notices do not count.
 */
export function countPlaybookActions(
  db: Db,
  zone: string,
  playbook: string,
  since: number,
): number {
  const r = db
    .prepare(
      `SELECT COUNT(*) AS n FROM playbook_actions WHERE zone = ? AND playbook = ? AND at >= ?
        AND kind IN ('block_source', 'revoke_permits') AND status IN ('done', 'simulated', 'undone', 'failed')`,
    )
    .get(zone, playbook, since) as { n: number };
  return r.n;
}

/** Whether a block of `target` by a playbook is still in force (carried out, not undone, not expired). */
export function activePlaybookBlock(db: Db, target: string, now: number): PlaybookActionRow | null {
  const r = db
    .prepare(
      `SELECT * FROM playbook_actions WHERE kind = 'block_source' AND target = ? AND status = 'done'
        AND expires_at > ? ORDER BY at DESC LIMIT 1`,
    )
    .get(target, now) as PlaybookActionRaw | undefined;
  return r ? fromRaw(r) : null;
}

export function markPlaybookActionUndone(db: Db, id: string, by: string, at: string): void {
  db.prepare(
    `UPDATE playbook_actions SET status = 'undone', undone_by = ?, undone_at = ? WHERE id = ?`,
  ).run(by, at, id);
}

/** The latest block of `target` a person undid since `since`: a playbook does not block it again meanwhile. */
export function recentUndoneBlock(db: Db, target: string, since: number): PlaybookActionRow | null {
  const r = db
    .prepare(
      `SELECT * FROM playbook_actions WHERE kind = 'block_source' AND target = ? AND status = 'undone'
        AND at >= ? ORDER BY at DESC LIMIT 1`,
    )
    .get(target, since) as PlaybookActionRaw | undefined;
  return r ? fromRaw(r) : null;
}
