import type { Db } from './db.js';

/**
 * The export queue. Events are appended once each (their id is unique: producing the same event twice is a
 * no-op) and numbered in order (seq). Each destination ("sink") keeps two cursors: `sent` — the last event the
 * kernel accepted on a live connection — and `acked` — the last one whose connection then stayed healthy for
 * the settle time. Delivery resumes after `sent` when Weir restarts, and after `acked` when the connection
 * broke while Weir ran (see src/export/delivery.ts for why).
 */
export interface QueuedEvent {
  seq: number;
  id: string;
  doc: string;
}

export interface ExportMarkRow {
  subject: string;
  updates: number;
  count: number;
  severity: string;
  at: number;
  /** A digest of the rest of the state the last event reported (incidents: status, techniques, …). */
  state?: string | null;
}

export interface SinkCursor {
  sent: number;
  acked: number;
}

/** Append events not yet queued, and record the marks that produced them, in one transaction. */
export function enqueueEvents(
  db: Db,
  events: ReadonlyArray<{ id: string; kind: string; doc: string }>,
  marks: readonly ExportMarkRow[] = [],
): number {
  const ins = db.prepare(
    'INSERT OR IGNORE INTO export_events (id, kind, created_at, doc) VALUES (?, ?, ?, ?)',
  );
  const mark = db.prepare(`INSERT INTO export_marks (subject, updates, count, severity, at, state)
    VALUES (@subject, @updates, @count, @severity, @at, @state)
    ON CONFLICT(subject) DO UPDATE SET updates = excluded.updates, count = excluded.count,
      severity = excluded.severity, at = excluded.at, state = excluded.state`);
  let added = 0;
  db.transaction(() => {
    const now = Date.now() / 1000;
    for (const e of events) added += ins.run(e.id, e.kind, now, e.doc).changes;
    for (const m of marks) mark.run({ state: null, ...m });
  })();
  return added;
}

/** What was last exported per subject whose name starts with `prefix` ('detection:', 'incident:'). */
export function exportMarks(db: Db, prefix: string): Map<string, ExportMarkRow> {
  const out = new Map<string, ExportMarkRow>();
  const rows = db
    .prepare("SELECT * FROM export_marks WHERE subject >= ? AND subject < ? || '\uffff'")
    .all(prefix, prefix) as ExportMarkRow[];
  for (const r of rows) out.set(r.subject, r);
  return out;
}

export function queuedAfter(db: Db, seq: number, limit: number): QueuedEvent[] {
  return db
    .prepare('SELECT seq, id, doc FROM export_events WHERE seq > ? ORDER BY seq LIMIT ?')
    .all(seq, limit) as QueuedEvent[];
}

export function lastQueuedSeq(db: Db): number {
  return (
    (db.prepare('SELECT MAX(seq) AS s FROM export_events').get() as { s: number | null }).s ?? 0
  );
}

export function seqOfEvent(db: Db, id: string): number | null {
  const r = db.prepare('SELECT seq FROM export_events WHERE id = ?').get(id) as
    | { seq: number }
    | undefined;
  return r?.seq ?? null;
}

export function sinkCursor(db: Db, name: string): SinkCursor {
  const r = db
    .prepare('SELECT sent_seq AS sent, acked_seq AS acked FROM export_sinks WHERE name = ?')
    .get(name) as SinkCursor | undefined;
  if (r) return r;
  db.prepare(
    'INSERT INTO export_sinks (name, sent_seq, acked_seq, updated_at) VALUES (?, 0, 0, ?)',
  ).run(name, new Date().toISOString());
  return { sent: 0, acked: 0 };
}

export function setSinkCursor(
  db: Db,
  name: string,
  c: SinkCursor,
  error: string | null = null,
): void {
  db.prepare(
    'UPDATE export_sinks SET sent_seq = ?, acked_seq = ?, updated_at = ?, last_error = ? WHERE name = ?',
  ).run(c.sent, c.acked, new Date().toISOString(), error, name);
}

export interface SinkStatus {
  name: string;
  sent: number;
  acked: number;
  pending: number;
  updatedAt: string;
  lastError: string | null;
}

export function sinkStatuses(db: Db): SinkStatus[] {
  const last = lastQueuedSeq(db);
  return (
    db
      .prepare(
        'SELECT name, sent_seq AS sent, acked_seq AS acked, updated_at AS updatedAt, last_error AS lastError FROM export_sinks ORDER BY name',
      )
      .all() as Array<Omit<SinkStatus, 'pending'>>
  ).map((s) => ({ ...s, pending: last - s.sent }));
}

/**
 * One process delivers to a destination at a time (two would send the queue twice): a lease, renewed as it
 * works. A holder that is gone — its lease ran out, or it was a process of this host that no longer exists —
 * is taken over at once. Returns null when claimed, else who holds it.
 */
export function claimSink(
  db: Db,
  name: string,
  owner: string,
  leaseSeconds: number,
  alive: (owner: string) => boolean,
): string | null {
  return db.transaction(() => {
    const r = db
      .prepare('SELECT owner, lease_until AS until FROM export_sinks WHERE name = ?')
      .get(name) as { owner: string | null; until: number | null } | undefined;
    const now = Date.now() / 1000;
    if (
      r !== undefined &&
      r.owner !== null &&
      r.owner !== owner &&
      (r.until ?? 0) > now &&
      alive(r.owner)
    )
      return r.owner;
    db.prepare('UPDATE export_sinks SET owner = ?, lease_until = ? WHERE name = ?').run(
      owner,
      now + leaseSeconds,
      name,
    );
    return null;
  })();
}

export function releaseSink(db: Db, name: string, owner: string): void {
  db.prepare(
    'UPDATE export_sinks SET owner = NULL, lease_until = NULL WHERE name = ? AND owner = ?',
  ).run(name, owner);
}

/**
 * Drop events every known destination has delivered and that are older than `keepSeconds`: the queue stays
 * small, and a destination that is behind keeps everything it still needs. Returns how many went.
 */
export function pruneDelivered(db: Db, keepSeconds: number): number {
  const r = db.prepare('SELECT MIN(acked_seq) AS s FROM export_sinks').get() as {
    s: number | null;
  };
  if (r.s === null) return 0;
  return db
    .prepare('DELETE FROM export_events WHERE seq <= ? AND created_at <= ?')
    .run(r.s, Date.now() / 1000 - keepSeconds).changes;
}
