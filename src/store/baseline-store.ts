import type { Db } from './db.js';
import type { Baseline } from '../discover/baseline.js';
import type { Detection } from '../detect/detection.js';
import type { Mute } from '../detect/engine.js';
import { withTechniques } from '../detect/attack-map.js';

/** Baselines are versioned: every learn or accepted deviation adds a version; old ones stay for review. */
export function saveBaseline(db: Db, b: Baseline): void {
  db.prepare('INSERT INTO baselines (version, created_at, note, doc) VALUES (?, ?, ?, ?)').run(
    b.version,
    b.createdAt,
    b.note,
    JSON.stringify(b),
  );
}

export function latestBaseline(db: Db): Baseline | null {
  const r = db.prepare('SELECT doc FROM baselines ORDER BY version DESC LIMIT 1').get() as
    | { doc: string }
    | undefined;
  return r ? (JSON.parse(r.doc) as Baseline) : null;
}

export function baselineVersion(db: Db, version: number): Baseline | null {
  const r = db.prepare('SELECT doc FROM baselines WHERE version = ?').get(version) as
    | { doc: string }
    | undefined;
  return r ? (JSON.parse(r.doc) as Baseline) : null;
}

export function listBaselines(db: Db): Array<{ version: number; createdAt: string; note: string }> {
  return db
    .prepare('SELECT version, created_at AS createdAt, note FROM baselines ORDER BY version')
    .all() as Array<{ version: number; createdAt: string; note: string }>;
}

export function nextBaselineVersion(db: Db): number {
  const r = db.prepare('SELECT MAX(version) AS v FROM baselines').get() as { v: number | null };
  return (r.v ?? 0) + 1;
}

export function saveDetections(db: Db, ds: Detection[], baselineVersionUsed: number | null): void {
  // A detection seen again updates its count and evidence; what an analyst decided (status) stays.
  const ins =
    db.prepare(`INSERT INTO detections (id, type, severity, ts, last_ts, count, src, dst, protocol, zone, baseline_version, doc)
    VALUES (@id, @type, @severity, @ts, @lastTs, @count, @src, @dst, @protocol, @zone, @bv, @doc)
    ON CONFLICT(id) DO UPDATE SET last_ts = excluded.last_ts, count = excluded.count, zone = excluded.zone, doc = excluded.doc`);
  db.transaction(() => {
    for (const d of ds) ins.run({ ...d, bv: baselineVersionUsed, doc: JSON.stringify(d) });
  })();
}

export function getDetection(db: Db, id: string): Detection | null {
  const r = db.prepare('SELECT doc FROM detections WHERE id = ?').get(id) as
    | { doc: string }
    | undefined;
  return r ? withTechniques(JSON.parse(r.doc) as Detection) : null;
}

export function addMute(db: Db, m: Mute, reason: string): number {
  const r = db
    .prepare(
      'INSERT INTO mutes (type, src, dst, detail, until, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    .run(
      m.type ?? null,
      m.src ?? null,
      m.dst ?? null,
      m.detail ?? null,
      m.until ?? null,
      reason,
      new Date().toISOString(),
    );
  return Number(r.lastInsertRowid);
}

export function listMutes(db: Db): Mute[] {
  const rows = db
    .prepare('SELECT type, src, dst, detail, until FROM mutes ORDER BY id')
    .all() as Array<Record<string, string | number | null>>;
  return rows.map((r) => {
    const m: Mute = {};
    if (r.type !== null) m.type = r.type as Mute['type'];
    if (r.src !== null) m.src = r.src as string;
    if (r.dst !== null) m.dst = r.dst as string;
    if (r.detail !== null) m.detail = r.detail as string;
    if (r.until !== null) m.until = r.until as number;
    return m;
  });
}
