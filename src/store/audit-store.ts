import { createHash } from 'node:crypto';
import type { Db } from './db.js';

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  simulationId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

function entryHash(prev: string, at: string, actor: string, action: string, subject: string, sim: string | null, details: string): string {
  return createHash('sha256').update(JSON.stringify([prev, at, actor, action, subject, sim, details])).digest('hex');
}

/** Append one entry (who, when, what, on which simulation). The store refuses edits and deletions. */
export function appendAudit(db: Db, e: { actor: string; action: string; subject: string; simulationId?: string | null; details?: Record<string, unknown> }): AuditEntry {
  return db.transaction(() => {
    const last = db.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined;
    const prev = last?.hash ?? '';
    const at = new Date().toISOString();
    const details = JSON.stringify(e.details ?? {});
    const sim = e.simulationId ?? null;
    const hash = entryHash(prev, at, e.actor, e.action, e.subject, sim, details);
    const r = db.prepare('INSERT INTO audit_log (at, actor, action, subject, simulation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(at, e.actor, e.action, e.subject, sim, details, prev, hash);
    return { seq: Number(r.lastInsertRowid), at, actor: e.actor, action: e.action, subject: e.subject, simulationId: sim, details: e.details ?? {}, prevHash: prev, hash };
  }).immediate();
}

export function listAudit(db: Db, limit = 1000): AuditEntry[] {
  const rows = db.prepare('SELECT seq, at, actor, action, subject, simulation_id AS simulationId, details, prev_hash AS prevHash, hash FROM audit_log ORDER BY seq DESC LIMIT ?').all(limit) as Array<Omit<AuditEntry, 'details'> & { details: string }>;
  return rows.reverse().map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}

/** Recompute the chain: the first entry whose hash or link does not match, or null when the log is intact. */
export function verifyAudit(db: Db): { seq: number; problem: string } | null {
  let prev = '';
  for (const r of db.prepare('SELECT seq, at, actor, action, subject, simulation_id AS sim, details, prev_hash AS prevHash, hash FROM audit_log ORDER BY seq').iterate() as Iterable<{ seq: number; at: string; actor: string; action: string; subject: string; sim: string | null; details: string; prevHash: string; hash: string }>) {
    if (r.prevHash !== prev) return { seq: r.seq, problem: 'link to the previous entry does not match' };
    if (entryHash(prev, r.at, r.actor, r.action, r.subject, r.sim, r.details) !== r.hash) return { seq: r.seq, problem: 'content does not match its hash' };
    prev = r.hash;
  }
  return null;
}
