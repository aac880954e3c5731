import type { Db } from './db.js';
import type { Asset, Edge } from '../discover/model.js';
import type { Detection } from '../detect/detection.js';
import { withTechniques } from '../detect/attack-map.js';
import type { ZoneCounts } from '../policy/simulate.js';

/** Paged, filtered reads for the API: the database filters, so 10k assets and 100k edges stay cheap. */
export interface Page<T> {
  total: number;
  items: T[];
}

export function countRows(db: Db, table: 'assets' | 'edges' | 'detections'): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
}

export function queryAssets(
  db: Db,
  q: { text?: string; role?: string; ids?: string[]; limit: number; offset: number },
): Page<Asset> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.role) {
    where.push('role = ?');
    args.push(q.role);
  }
  if (q.text) {
    where.push("(id LIKE ? ESCAPE '\\' OR doc LIKE ? ESCAPE '\\')");
    const like = `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    args.push(like, like);
  }
  // One JSON argument, not one variable per id: SQLite allows at most 32,766 (a big map has more addresses).
  if (q.ids) {
    where.push('id IN (SELECT value FROM json_each(?))');
    args.push(JSON.stringify(q.ids));
  }
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM assets ${w}`).get(...args) as { n: number })
    .n;
  const items = (
    db
      .prepare(`SELECT doc FROM assets ${w} ORDER BY id LIMIT ? OFFSET ?`)
      .all(...args, q.limit, q.offset) as Array<{ doc: string }>
  ).map((r) => JSON.parse(r.doc) as Asset);
  return { total, items };
}

export function getAsset(db: Db, id: string): Asset | null {
  const r = db.prepare('SELECT doc FROM assets WHERE id = ?').get(id) as
    | { doc: string }
    | undefined;
  return r ? (JSON.parse(r.doc) as Asset) : null;
}

export function edgesOf(db: Db, ips: string[], limit: number): Edge[] {
  if (ips.length === 0) return [];
  const set = JSON.stringify(ips);
  return (
    db
      .prepare(
        'SELECT doc FROM edges WHERE client IN (SELECT value FROM json_each(?)) OR server IN (SELECT value FROM json_each(?)) ORDER BY packets DESC LIMIT ?',
      )
      .all(set, set, limit) as Array<{ doc: string }>
  ).map((r) => JSON.parse(r.doc) as Edge);
}

/** Communication between two assets, all edges (protocols, ports) of the pair folded into one line for the map. */
export interface PairLink {
  id: string;
  client: string;
  server: string;
  protocols: string;
  services: number;
  firstService: string;
  packets: number;
}

/** The busiest pairs (for the map): the map shows what matters first and says how much it left out. */
export function topPairs(db: Db, limit: number, groupTraffic = false): Page<PairLink> {
  // Multicast and broadcast (neighbour discovery, Who-Is, SSDP) crowd a map without saying who talks to whom.
  const where = groupTraffic
    ? ''
    : `WHERE server NOT LIKE 'ff%' AND server NOT LIKE '%.255' AND NOT (server GLOB '22[4-9].*' OR server GLOB '23[0-9].*')`;
  const total = (
    db
      .prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM edges ${where} GROUP BY client, server)`)
      .get() as { n: number }
  ).n;
  const items = db
    .prepare(
      `SELECT client || '>' || server AS id, client, server, GROUP_CONCAT(DISTINCT protocol) AS protocols, COUNT(*) AS services,
      MIN(transport || '/' || port) AS firstService, SUM(packets) AS packets
    FROM edges ${where} GROUP BY client, server ORDER BY SUM(packets) DESC LIMIT ?`,
    )
    .all(limit) as PairLink[];
  return { total, items };
}

/** The most used function names on the edges between two assets (for map labels of small plants). */
export function pairFunctions(db: Db, client: string, server: string, max = 3): string[] {
  const counts = new Map<string, number>();
  for (const r of db
    .prepare('SELECT doc FROM edges WHERE client = ? AND server = ? ORDER BY packets DESC LIMIT 20')
    .all(client, server) as Array<{ doc: string }>) {
    for (const f of (JSON.parse(r.doc) as Edge).functions)
      if (f.func >= 0)
        counts.set(f.name || String(f.func), (counts.get(f.name || String(f.func)) ?? 0) + f.count);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, max)
    .map(([n]) => n);
}

/** A stored detection with the analyst's status and the incident it was filed into (null: none yet). */
export type DetectionRow = Detection & { status: string; incidentId: string | null };

export function queryDetections(
  db: Db,
  q: { status?: string; severity?: string; ip?: string; limit: number; offset: number },
): Page<DetectionRow> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.status) {
    where.push('status = ?');
    args.push(q.status);
  }
  if (q.severity) {
    where.push('severity = ?');
    args.push(q.severity);
  }
  if (q.ip) {
    where.push('(src = ? OR dst = ?)');
    args.push(q.ip, q.ip);
  }
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (
    db.prepare(`SELECT COUNT(*) AS n FROM detections ${w}`).get(...args) as { n: number }
  ).n;
  const items = (
    db
      .prepare(
        `SELECT doc, status, (SELECT incident_id FROM incident_detections WHERE detection_id = detections.id) AS incidentId
          FROM detections ${w} ORDER BY ts DESC LIMIT ? OFFSET ?`,
      )
      .all(...args, q.limit, q.offset) as Array<{
      doc: string;
      status: string;
      incidentId: string | null;
    }>
  ).map((r) => ({
    ...withTechniques(JSON.parse(r.doc) as Detection),
    status: r.status,
    incidentId: r.incidentId,
  }));
  return { total, items };
}

export function detectionCounts(db: Db): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of db
    .prepare('SELECT status, severity, COUNT(*) AS n FROM detections GROUP BY status, severity')
    .all() as Array<{ status: string; severity: string; n: number }>) {
    (out[r.status] ??= {})[r.severity] = r.n;
  }
  return out;
}

export function listSimulations(db: Db, limit: number): Array<Record<string, unknown>> {
  return (
    db
      .prepare(
        `SELECT id, policy_sha256 AS policySha, baseline_version AS baselineVersion, created_at AS createdAt, captures, first_ts AS firstTs,
    last_ts AS lastTs, packets, blocked_flows AS blockedFlows, baseline_blocked AS baselineBlocked, zones FROM simulations ORDER BY created_at DESC LIMIT ?`,
      )
      .all(limit) as Array<Record<string, string>>
  ).map((r) => ({ ...r, captures: JSON.parse(r.captures!), zones: JSON.parse(r.zones!) }));
}

/**
 * The recorded simulations, newest first, each with its scans and scan probes summed over its zones (absent
 * in older records: 0), counted as `weir policy simulate` counts them: blocked flows are edges, and of them
 * the probes of scans.
 */
export function simulationSummaries(db: Db, limit: number): Array<Record<string, unknown>> {
  return listSimulations(db, limit).map((item) => {
    const zones = Object.values((item.zones ?? {}) as Record<string, ZoneCounts>);
    return {
      ...item,
      scans: zones.reduce((n, z) => n + (z.scans ?? 0), 0),
      scanProbes: zones.reduce((n, z) => n + (z.scanProbes ?? 0), 0),
    };
  });
}

export function simulationDoc(db: Db, id: string): unknown {
  const r = db.prepare('SELECT doc FROM simulations WHERE id = ?').get(id) as
    | { doc: string }
    | undefined;
  return r ? JSON.parse(r.doc) : null;
}

/** Open detections per address (as source or destination) and severity. */
export function openDetectionsByAddress(
  db: Db,
): Map<string, { critical: number; high: number; medium: number; low: number }> {
  const out = new Map<string, { critical: number; high: number; medium: number; low: number }>();
  const rows = db
    .prepare(
      `SELECT ip, severity, COUNT(*) AS n FROM (
         SELECT src AS ip, severity FROM detections WHERE status = 'open'
         UNION ALL SELECT dst AS ip, severity FROM detections WHERE status = 'open' AND dst IS NOT src
       ) WHERE ip IS NOT NULL GROUP BY ip, severity`,
    )
    .all() as Array<{ ip: string; severity: string; n: number }>;
  for (const r of rows) {
    const c = out.get(r.ip) ?? { critical: 0, high: 0, medium: 0, low: 0 };
    if (r.severity === 'critical' || r.severity === 'high' || r.severity === 'medium')
      c[r.severity] += r.n;
    else c.low += r.n;
    out.set(r.ip, c);
  }
  return out;
}
