import type { Db } from './db.js';
import type { Advisory } from '../assess/advisories/csaf.js';
import type { Asset } from '../discover/model.js';

export type SaveOutcome = 'added' | 'updated' | 'unchanged' | 'older';

/**
 * Store one advisory. A revision already stored that is newer (by current release date, then tracking
 * version) is kept: importing an old feed after a new one never rolls advisories back.
 */
export function saveAdvisory(db: Db, a: Advisory, source: string, at: string): SaveOutcome {
  const cur = db
    .prepare('SELECT revision, current_release FROM advisories WHERE id = ?')
    .get(a.id) as { revision: string; current_release: string | null } | undefined;
  if (cur) {
    const c = compareRelease(a, cur.current_release, cur.revision);
    if (c < 0) return 'older';
    if (c === 0) return 'unchanged';
  }
  const cves = [...new Set(a.vulns.map((v) => v.cve).filter((c): c is string => !!c))].sort();
  const max = a.vulns.reduce<number | null>(
    (m, v) => (v.cvss && (m === null || v.cvss.score > m) ? v.cvss.score : m),
    null,
  );
  db.prepare('DELETE FROM advisory_products WHERE advisory_id = ?').run(a.id);
  db.prepare(
    `INSERT INTO advisories (id, title, publisher, revision, initial_release, current_release, source, imported_at, cves, max_cvss, doc)
     VALUES (@id, @title, @publisher, @revision, @initial, @current, @source, @at, @cves, @max, @doc)
     ON CONFLICT(id) DO UPDATE SET title = excluded.title, publisher = excluded.publisher,
       revision = excluded.revision, initial_release = excluded.initial_release,
       current_release = excluded.current_release, source = excluded.source,
       imported_at = excluded.imported_at, cves = excluded.cves, max_cvss = excluded.max_cvss, doc = excluded.doc`,
  ).run({
    id: a.id,
    title: a.title,
    publisher: a.publisher,
    revision: a.revision,
    initial: a.initialRelease,
    current: a.currentRelease,
    source,
    at,
    cves: JSON.stringify(cves),
    max,
    doc: JSON.stringify(a),
  });
  const ins = db.prepare(
    'INSERT OR REPLACE INTO advisory_products (advisory_id, product_id, vendor_key, name, version, order_numbers) VALUES (?, ?, ?, ?, ?, ?)',
  );
  for (const p of a.products)
    ins.run(
      a.id,
      p.productId,
      p.vendorKey,
      p.fullName,
      p.versionText,
      JSON.stringify(p.orderNumbers),
    );
  return cur ? 'updated' : 'added';
}

function compareRelease(a: Advisory, release: string | null, revision: string): number {
  const x = Date.parse(a.currentRelease ?? '') || 0;
  const y = Date.parse(release ?? '') || 0;
  if (x !== y) return x < y ? -1 : 1;
  const rx = a.revision.split('.').map(Number);
  const ry = revision.split('.').map(Number);
  for (let i = 0; i < Math.max(rx.length, ry.length); i++) {
    const d = (rx[i] ?? 0) - (ry[i] ?? 0);
    if (d !== 0 && Number.isFinite(d)) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Every stored advisory, parsed (for building the matching index). */
export function* loadAdvisories(db: Db): Generator<Advisory> {
  for (const r of db.prepare('SELECT doc FROM advisories ORDER BY id').iterate() as Iterable<{
    doc: string;
  }>)
    yield JSON.parse(r.doc) as Advisory;
}

export function getAdvisory(db: Db, id: string): Advisory | null {
  const r = db.prepare('SELECT doc FROM advisories WHERE id = ?').get(id) as
    | { doc: string }
    | undefined;
  return r ? (JSON.parse(r.doc) as Advisory) : null;
}

export interface AdvisorySummary {
  id: string;
  title: string;
  currentRelease: string | null;
  cves: string[];
  maxCvss: number | null;
  importedAt: string;
}

export function advisoryCount(db: Db): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM advisories').get() as { n: number }).n;
}

export function listAdvisories(db: Db, ids: string[]): AdvisorySummary[] {
  const get = db.prepare(
    'SELECT id, title, current_release, cves, max_cvss, imported_at FROM advisories WHERE id = ?',
  );
  return ids
    .map(
      (id) =>
        get.get(id) as
          | {
              id: string;
              title: string;
              current_release: string | null;
              cves: string;
              max_cvss: number | null;
              imported_at: string;
            }
          | undefined,
    )
    .filter((r) => r !== undefined)
    .map((r) => ({
      id: r.id,
      title: r.title,
      currentRelease: r.current_release,
      cves: JSON.parse(r.cves) as string[],
      maxCvss: r.max_cvss,
      importedAt: r.imported_at,
    }));
}

/** Changes whenever advisories are added or replaced: a cached matching index is stale when it differs. */
export function advisoriesStamp(db: Db): string {
  const r = db
    .prepare('SELECT COUNT(*) AS n, MAX(imported_at) AS at, MAX(rowid) AS last FROM advisories')
    .get() as { n: number; at: string | null; last: number | null };
  return `${r.n}/${r.at ?? ''}/${r.last ?? 0}`;
}

/** Every asset's stored record, without the edges (matching reads identities only). */
export function storedAssetsWithIdentity(db: Db): Asset[] {
  return (
    db
      .prepare(
        'SELECT doc FROM assets WHERE vendor IS NOT NULL OR product IS NOT NULL OR doc LIKE \'%"model"%\' OR doc LIKE \'%"hardware"%\' ORDER BY id',
      )
      .all() as { doc: string }[]
  ).map((r) => JSON.parse(r.doc) as Asset);
}
