import type { Db } from './db.js';
import type { Incident } from '../detect/incident.js';
import type { Page } from './read-store.js';

/** Write changed incidents and their detection links, drop absorbed ones: one transaction. */
export function saveIncidents(
  db: Db,
  changed: readonly Incident[],
  removed: readonly string[],
): void {
  const del = db.prepare('DELETE FROM incidents WHERE id = ?');
  const up =
    db.prepare(`INSERT INTO incidents (id, status, severity, first_seen, last_seen, updated_at, doc)
    VALUES (@id, @status, @severity, @firstSeen, @lastSeen, @updatedAt, @doc)
    ON CONFLICT(id) DO UPDATE SET status = excluded.status, severity = excluded.severity,
      first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated_at = excluded.updated_at,
      doc = excluded.doc`);
  const link = db.prepare(`INSERT INTO incident_detections (detection_id, incident_id) VALUES (?, ?)
    ON CONFLICT(detection_id) DO UPDATE SET incident_id = excluded.incident_id`);
  db.transaction(() => {
    for (const id of removed) del.run(id);
    for (const i of changed) {
      up.run({ ...i, doc: JSON.stringify(i) });
      for (const d of i.detectionIds) link.run(d, i.id);
    }
  })();
}

/**
 * The incidents new detections may still join or update: not closed and seen since `since`, plus whichever
 * already hold one of `detectionIds` (a detection seen again updates its step, even on a closed incident).
 */
export function incidentsInPlay(
  db: Db,
  since: number,
  detectionIds: readonly string[],
): Incident[] {
  return (
    db
      .prepare(
        `SELECT doc FROM incidents WHERE (status != 'closed' AND last_seen >= ?)
          OR id IN (SELECT incident_id FROM incident_detections WHERE detection_id IN (SELECT value FROM json_each(?)))`,
      )
      .all(since, JSON.stringify(detectionIds)) as Array<{ doc: string }>
  ).map((r) => JSON.parse(r.doc) as Incident);
}

export function getIncident(db: Db, id: string): Incident | null {
  const r = db.prepare('SELECT doc FROM incidents WHERE id = ?').get(id) as
    | { doc: string }
    | undefined;
  return r ? (JSON.parse(r.doc) as Incident) : null;
}

export function allIncidents(db: Db): Incident[] {
  return (
    db.prepare('SELECT doc FROM incidents ORDER BY first_seen').all() as Array<{ doc: string }>
  ).map((r) => JSON.parse(r.doc) as Incident);
}

export function queryIncidents(
  db: Db,
  q: { status?: string; limit: number; offset: number },
): Page<Incident> {
  const w = q.status ? 'WHERE status = ?' : '';
  const args = q.status ? [q.status] : [];
  const total = (
    db.prepare(`SELECT COUNT(*) AS n FROM incidents ${w}`).get(...args) as { n: number }
  ).n;
  const items = (
    db
      .prepare(`SELECT doc FROM incidents ${w} ORDER BY last_seen DESC, id LIMIT ? OFFSET ?`)
      .all(...args, q.limit, q.offset) as Array<{ doc: string }>
  ).map((r) => JSON.parse(r.doc) as Incident);
  return { total, items };
}

/**
 * Incidents changed after `since` (ISO 8601, exclusive), oldest change first: what an exporter sends next.
 * Page with the last `updatedAt` (and `id` for ties) it received.
 */
export function incidentsUpdatedSince(
  db: Db,
  since: string,
  limit = 1000,
  afterId?: string,
): Incident[] {
  // Without afterId every incident changed at `since` was already received.
  return (
    db
      .prepare(
        `SELECT doc FROM incidents WHERE updated_at > ? OR (updated_at = ? AND id > ?)
          ORDER BY updated_at, id LIMIT ?`,
      )
      .all(since, since, afterId ?? '\uffff', limit) as Array<{ doc: string }>
  ).map((r) => JSON.parse(r.doc) as Incident);
}

export function incidentIdOf(db: Db, detectionId: string): string | null {
  const r = db
    .prepare('SELECT incident_id AS id FROM incident_detections WHERE detection_id = ?')
    .get(detectionId) as { id: string } | undefined;
  return r?.id ?? null;
}

/** Forget every incident (rebuild starts from the detections). */
export function clearIncidents(db: Db): void {
  db.exec('DELETE FROM incident_detections; DELETE FROM incidents;');
}

/** How many incidents the store holds. */
export function incidentCount(db: Db): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM incidents').get() as { n: number }).n;
}
