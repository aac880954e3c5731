import { createHash } from 'node:crypto';
import type { Db } from './db.js';
import { escapeControls } from './untrusted-text.js';
import {
  AuditKeyProblem,
  auditHeadPath,
  auditKeyForAppend,
  auditKeyPath,
  auditKeyForVerify,
  entryMac,
  headSigned,
  macMatches,
  newAuditKey,
  readHead,
  writeHead,
  type AuditKey,
} from './audit-key.js';

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
  /** HMAC of the entry with the audit key (null: written before the store was keyed). */
  mac: string | null;
  keyId: string | null;
}

export function entryHash(
  prev: string,
  at: string,
  actor: string,
  action: string,
  subject: string,
  sim: string | null,
  details: string,
): string {
  return createHash('sha256')
    .update(JSON.stringify([prev, at, actor, action, subject, sim, details]))
    .digest('hex');
}

/** Keyed entries this handle wrote since it last anchored the head (to tell "never anchored" from "head deleted"). */
const unanchored = new WeakMap<Db, number>();

/**
 * Append one entry (who, when, what, on which simulation), hash-chained and keyed, then anchor the log's end
 * in the head file. The store refuses edits and deletions; the key and head catch whoever gets past that.
 */
export function appendAudit(
  db: Db,
  e: {
    actor: string;
    action: string;
    subject: string;
    simulationId?: string | null;
    details?: Record<string, unknown>;
  },
): AuditEntry {
  const key = auditKeyForAppend(db);
  // Who acted is a name we know; should one ever carry a control or bidi mark, it is kept escaped.
  const actor = escapeControls(e.actor);
  const entry = db
    .transaction(() => {
      const last = db.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
        | { hash: string }
        | undefined;
      const prev = last?.hash ?? '';
      const at = new Date().toISOString();
      const details = JSON.stringify(e.details ?? {});
      const sim = e.simulationId ?? null;
      const hash = entryHash(prev, at, actor, e.action, e.subject, sim, details);
      const mac = entryMac(key, key.id, hash);
      const r = db
        .prepare(
          'INSERT INTO audit_log (at, actor, action, subject, simulation_id, details, prev_hash, hash, key_id, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(at, actor, e.action, e.subject, sim, details, prev, hash, key.id, mac);
      return {
        seq: Number(r.lastInsertRowid),
        at,
        actor,
        action: e.action,
        subject: e.subject,
        simulationId: sim,
        details: e.details ?? {},
        prevHash: prev,
        hash,
        mac,
        keyId: key.id,
      };
    })
    .immediate();
  unanchored.set(db, (unanchored.get(db) ?? 0) + 1);
  anchorAudit(db);
  return entry;
}

/**
 * Write the head file at the log's current end. Inside an open transaction nothing is committed yet, so the
 * caller anchors after commit. A head that disagrees with the store (cut, rolled back, forged, deleted) is
 * evidence: it is left as it is, for `checkAudit` to report, until an admin re-anchors on the record.
 */
export function anchorAudit(db: Db): void {
  if (db.inTransaction) return;
  const key = auditKeyForAppend(db);
  const file = auditHeadPath(db, key);
  if (file === null) return;
  db.transaction(() => {
    // holds the write lock, so heads are written in the order of the log
    const last = db
      .prepare('SELECT seq, hash, mac FROM audit_log ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; hash: string; mac: string | null } | undefined;
    if (last === undefined || last.mac === null) return;
    const h = readHead(file);
    if (h === 'unreadable') return;
    if (h === 'missing') {
      const keyed = (
        db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE mac IS NOT NULL').get() as {
          n: number;
        }
      ).n;
      if (keyed > (unanchored.get(db) ?? 0)) return;
    } else if (!headSigned(key, h) || h.seq > last.seq || hashAt(db, h.seq) !== h.hash) return;
    // Where keying began is carried from head to head, never re-read from MACs someone may have stripped.
    const keyedFrom =
      h === 'missing' ? firstKeyed(db, last.seq) : (h.keyedFrom ?? firstKeyed(db, h.seq));
    try {
      writeHead(file, key, last.seq, last.hash, keyedFrom);
    } catch (err) {
      throw new Error(
        `audit entry ${last.seq} is written, but its head could not be anchored in ${file}: ${(err as Error).message}`,
      );
    }
    unanchored.set(db, 0);
  }).immediate();
}

/** The first keyed entry, at most `bound` (an entry known to have been keyed). */
const firstKeyed = (db: Db, bound: number): number =>
  Math.min(
    bound,
    (
      db.prepare('SELECT MIN(seq) AS s FROM audit_log WHERE mac IS NOT NULL').get() as {
        s: number | null;
      }
    ).s ?? bound,
  );

const hashAt = (db: Db, seq: number): string | null =>
  (db.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(seq) as { hash: string } | undefined)
    ?.hash ?? null;

export function listAudit(db: Db, limit = 1000): AuditEntry[] {
  const rows = db
    .prepare(
      'SELECT seq, at, actor, action, subject, simulation_id AS simulationId, details, prev_hash AS prevHash, hash, mac, key_id AS keyId FROM audit_log ORDER BY seq DESC LIMIT ?',
    )
    .all(limit) as Array<Omit<AuditEntry, 'details'> & { details: string }>;
  return rows
    .reverse()
    .map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}

export const AUDIT_PROVES =
  'No entry written since the store was keyed has been changed, removed or reordered, and entries were not cut from the end, by anyone who does not hold the audit key file.';
export const AUDIT_DOES_NOT_PROVE =
  'That the recorded events are true; anything about entries written before the key existed (marked unkeyed) beyond the hash chain; ' +
  'anything against someone who holds both the key file and write access to the database (they can rewrite it); ' +
  'a rollback of the database and the head file together to an older copy (anchor the head off the host for that).';

export interface AuditCheck {
  /** intact: every check passed; tampered: one failed (problem says where); unverifiable: keyed entries but no usable key. */
  status: 'intact' | 'tampered' | 'unverifiable';
  intact: boolean;
  entries: number;
  /** Entries carrying a MAC, and those from before the store was keyed (checked by the hash chain only). */
  keyed: number;
  unkeyed: number;
  keyId: string | null;
  /** The anchored end of the log, from the head file. */
  head: { seq: number; at: string } | null;
  problem: { seq: number | null; problem: string } | null;
  notes: string[];
  proves: string;
  doesNotProve: string;
}

type Row = {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  sim: string | null;
  details: string;
  prevHash: string;
  hash: string;
  mac: string | null;
  keyId: string | null;
};

/** Recompute the chain, check every MAC with the key and compare the log's end with the head file. */
export function checkAudit(db: Db): AuditCheck {
  const out: AuditCheck = {
    status: 'intact',
    intact: true,
    entries: 0,
    keyed: 0,
    unkeyed: 0,
    keyId: null,
    head: null,
    problem: null,
    notes: [],
    proves: AUDIT_PROVES,
    doesNotProve: AUDIT_DOES_NOT_PROVE,
  };
  const fail = (
    status: 'tampered' | 'unverifiable',
    seq: number | null,
    problem: string,
  ): AuditCheck => ({ ...out, status, intact: false, problem: { seq, problem } });
  let key: AuditKey | null = null;
  let keyProblem: string | null = null;
  try {
    key = auditKeyForVerify(db);
  } catch (err) {
    if (err instanceof AuditKeyProblem) keyProblem = err.message;
    else throw err;
  }
  out.keyId = key?.id ?? null;
  // The head is read first: once a head exists, the log was keyed, whatever the store's rows say now. Someone
  // holding only the database can strip every MAC and re-hash the chain; they cannot move the signed head.
  const file = auditHeadPath(db, key);
  const h = file === null ? 'missing' : readHead(file);
  const head = typeof h === 'object' ? h : null;
  if (head !== null) out.head = { seq: head.seq, at: head.at };
  const signed = head !== null && key !== null && headSigned(key, head);
  // Entries from here on must carry a MAC; "unkeyed" can only mean "before it".
  const keyedFrom = signed ? (head.keyedFrom ?? head.seq) : null;
  let prev = '';
  let last: Row | null = null;
  let earlierKey = 0;
  for (const r of db
    .prepare(
      'SELECT seq, at, actor, action, subject, simulation_id AS sim, details, prev_hash AS prevHash, hash, mac, key_id AS keyId FROM audit_log ORDER BY seq',
    )
    .iterate() as Iterable<Row>) {
    out.entries++;
    if (r.prevHash !== prev)
      return fail('tampered', r.seq, 'link to the previous entry does not match');
    if (entryHash(prev, r.at, r.actor, r.action, r.subject, r.sim, r.details) !== r.hash)
      return fail('tampered', r.seq, 'content does not match its hash');
    if (r.mac === null) {
      if (out.keyed > 0)
        return fail(
          'tampered',
          r.seq,
          'entry has no MAC although earlier entries are keyed: it was written without the key',
        );
      if (keyedFrom !== null && r.seq >= keyedFrom)
        return fail(
          'tampered',
          r.seq,
          `entry has no MAC although the signed head says the log is keyed from entry ${keyedFrom}: its MAC was stripped or it was written without the key`,
        );
      out.unkeyed++;
    } else {
      out.keyed++;
      if (key !== null && r.keyId === key.id && !macMatches(r.mac, entryMac(key, r.keyId, r.hash)))
        return fail(
          'tampered',
          r.seq,
          'MAC does not match: the entry was rewritten (and re-hashed) without the key',
        );
      if (key !== null && r.keyId !== key.id) earlierKey++;
    }
    prev = r.hash;
    last = r;
  }
  if (out.unkeyed > 0)
    out.notes.push(
      `${out.unkeyed} entr${out.unkeyed === 1 ? 'y was' : 'ies were'} written before the store was keyed (unkeyed: checked by the hash chain only)`,
    );
  const keyMissing = (): AuditCheck =>
    fail(
      'unverifiable',
      null,
      keyProblem ??
        `the audit key ${auditKeyPath(db) ?? ''} is missing, so the keyed entries cannot be verified (restore it, or point WEIR_AUDIT_KEY or --audit-key at it)`,
    );
  if (out.keyed === 0 && h === 'missing') {
    out.notes.push('no entry is keyed yet: the next change keys the log');
    return out;
  }
  if (key === null) return keyMissing();
  if (out.keyed > 0) {
    // The last entry's MAC covers, through the chain, every entry before it — including those made with an earlier key.
    if (last!.keyId !== key.id)
      return fail('tampered', last!.seq, 'the last entry is not keyed with the current key');
    if (earlierKey > 0)
      out.notes.push(
        `${earlierKey} entr${earlierKey === 1 ? 'y was' : 'ies were'} keyed with an earlier key (covered by the chain up to later keyed entries)`,
      );
  }
  if (file === null) return out;
  if (h === 'missing')
    return fail(
      'tampered',
      null,
      `the head file ${file} is missing: removed entries at the end cannot be ruled out`,
    );
  if (h === 'unreadable') return fail('tampered', null, `the head file ${file} is unreadable`);
  if (!signed)
    return fail('tampered', null, `the head file ${file} is not signed with the audit key`);
  const end = last?.seq ?? 0;
  if (h.seq > end)
    return fail(
      'tampered',
      last?.seq ?? null,
      last === null
        ? `the head anchors entry ${h.seq}, but the log is empty: entries were removed or the store was replaced`
        : `the head anchors entry ${h.seq}, but the log ends at ${end}: entries were removed or the store was rolled back`,
    );
  if (hashAt(db, h.seq) !== h.hash)
    return fail(
      'tampered',
      h.seq,
      `entry ${h.seq} is not the one the head anchors: the store was rolled back or rewritten`,
    );
  if (h.seq < end)
    out.notes.push(
      `entries after ${h.seq} are not anchored in the head yet (a writer stopped before anchoring); their MACs check`,
    );
  return out;
}

/** The first problem, or null when the log checks out (kept for callers that only want yes or no). */
export function verifyAudit(db: Db): { seq: number; problem: string } | null {
  const c = checkAudit(db);
  return c.intact ? null : { seq: c.problem?.seq ?? 0, problem: c.problem?.problem ?? c.status };
}

/**
 * An admin's explicit act, on the record: anchor the head at the log's current end even though the old head
 * disagrees (a restored backup, a lost head file), optionally with a new key when the old one is lost.
 */
export function reanchorAudit(
  db: Db,
  s: { actor: string; reason: string; newKey: boolean },
): AuditEntry {
  const before = checkAudit(db);
  const previousKey =
    (
      db
        .prepare(
          'SELECT key_id AS k FROM audit_log WHERE key_id IS NOT NULL ORDER BY seq DESC LIMIT 1',
        )
        .get() as { k: string } | undefined
    )?.k ?? null;
  const key = s.newKey ? newAuditKey(db) : auditKeyForAppend(db);
  const entry = appendAudit(db, {
    actor: s.actor,
    action: s.newKey ? 'audit.key_replaced' : 'audit.reanchored',
    subject: 'audit log',
    details: {
      reason: s.reason,
      previous_key_id: previousKey,
      key_id: key.id,
      check_before: { status: before.status, problem: before.problem, head: before.head },
    },
  });
  const file = auditHeadPath(db, key);
  if (file !== null) writeHead(file, key, entry.seq, entry.hash, firstKeyed(db, entry.seq));
  unanchored.set(db, 0);
  return entry;
}

/**
 * The newest entries, oldest first, with the chain check. The check says what it proves and what it does
 * not: a reader is shown both, not just "intact".
 */
export function auditReport(
  db: Db,
  limit: number,
): { items: AuditEntry[]; chain: 'intact' | AuditCheck['problem']; check: AuditCheck } {
  const check = checkAudit(db);
  return {
    items: listAudit(db, limit).reverse(),
    chain: check.status === 'intact' ? 'intact' : check.problem,
    check,
  };
}
