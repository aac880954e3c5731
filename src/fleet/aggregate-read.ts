/**
 * The dashboard's pages over what sites sent (manager.db): one site, or all of them merged with a site column.
 * Addresses repeat across sites (private address plans are reused), so every row names its site and the
 * merged view never joins rows of different sites.
 */
import { checkSiteChain, readRejects, type ChainCheck, type Rejects } from './aggregate-store.js';
import type { FleetDb } from './fleet-db.js';

/** A site's name, or '*' for all of them (no site can be named '*'). */
export type SiteSel = string;
export const ALL = '*';

const bySite = (sel: SiteSel): [string, unknown[]] =>
  sel === ALL ? ['', []] : [' AND site = ?', [sel]];

const parse = (doc: string): Record<string, unknown> => {
  try {
    const v: unknown = JSON.parse(doc);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

export function siteNames(db: FleetDb): string[] {
  return (
    db.prepare('SELECT site FROM fleet_sites ORDER BY site').all() as Array<{ site: string }>
  ).map((r) => r.site);
}

type Row = Record<string, unknown> & { site: string };

export function fleetAssets(
  db: FleetDb,
  sel: SiteSel,
  q: { q?: string; role?: string; limit: number; offset: number },
): { total: number; items: Row[] } {
  let [w, args] = bySite(sel);
  args = [...args];
  if (q.role) {
    w += " AND json_extract(doc, '$.role') = ?";
    args.push(q.role);
  }
  if (q.q) {
    w += " AND (key LIKE ? ESCAPE '\\' OR doc LIKE ? ESCAPE '\\')";
    const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    args.push(like, like);
  }
  const from = `FROM fleet_items WHERE type = 'asset' AND deleted = 0${w}`;
  const total = (db.prepare(`SELECT count(*) AS n ${from}`).get(...args) as { n: number }).n;
  const items = (
    db
      .prepare(`SELECT site, doc ${from} ORDER BY site, key LIMIT ? OFFSET ?`)
      .all(...args, q.limit, q.offset) as Array<{
      site: string;
      doc: string;
    }>
  ).map((r) => ({ ...parse(r.doc), zone: null, site: r.site }));
  return { total, items };
}

/** The map's busiest pairs from sites' edges; in the merged view node ids are `site/address`. */
export function fleetMap(db: FleetDb, sel: SiteSel, limit: number) {
  const [w, args] = bySite(sel);
  const pairs = db
    .prepare(
      `SELECT site, json_extract(doc, '$.client') AS client, json_extract(doc, '$.server') AS server,
         group_concat(DISTINCT json_extract(doc, '$.protocol')) AS protocols, count(*) AS services,
         min(json_extract(doc, '$.protocol')) AS firstService, sum(json_extract(doc, '$.packets')) AS packets
       FROM fleet_items WHERE type = 'edge' AND deleted = 0${w}
       GROUP BY site, client, server ORDER BY packets DESC LIMIT ?`,
    )
    .all(...args, limit) as Array<{
    site: string;
    client: string;
    server: string;
    protocols: string;
    services: number;
    firstService: string;
    packets: number;
  }>;
  const totalPairs = (
    db
      .prepare(
        `SELECT count(*) AS n FROM (SELECT 1 FROM fleet_items WHERE type = 'edge' AND deleted = 0${w}
         GROUP BY site, json_extract(doc, '$.client'), json_extract(doc, '$.server'))`,
      )
      .get(...args) as { n: number }
  ).n;
  const id = (site: string, ip: string): string => (sel === ALL ? `${site}/${ip}` : ip);
  const asset = db.prepare(
    "SELECT doc FROM fleet_items WHERE site = ? AND type = 'asset' AND key = ? AND deleted = 0",
  );
  const nodes = new Map<
    string,
    { id: string; role: string; name: string | null; zone: null; site: string }
  >();
  for (const p of pairs)
    for (const ip of [p.client, p.server]) {
      const k = id(p.site, ip);
      if (nodes.has(k)) continue;
      const a = parse((asset.get(p.site, ip) as { doc: string } | undefined)?.doc ?? '{}');
      const names = Array.isArray(a.hostnames) ? (a.hostnames as unknown[]) : [];
      nodes.set(k, {
        id: k,
        role: typeof a.role === 'string' ? a.role : 'unknown',
        name: typeof names[0] === 'string' ? names[0] : null,
        zone: null,
        site: p.site,
      });
    }
  return {
    totalPairs,
    nodes: [...nodes.values()],
    edges: pairs.map((p) => ({
      ...p,
      id: `${id(p.site, p.client)}>${id(p.site, p.server)}`,
      client: id(p.site, p.client),
      server: id(p.site, p.server),
    })),
  };
}

export function fleetIncidents(
  db: FleetDb,
  sel: SiteSel,
  q: { status?: string; limit: number; offset: number },
): { total: number; items: Row[] } {
  let [w, args] = bySite(sel);
  args = [...args];
  if (q.status) {
    w += " AND json_extract(doc, '$.status') = ?";
    args.push(q.status);
  }
  const from = `FROM fleet_items WHERE type = 'incident' AND deleted = 0${w}`;
  const total = (db.prepare(`SELECT count(*) AS n ${from}`).get(...args) as { n: number }).n;
  const items = (
    db
      .prepare(
        `SELECT site, doc ${from} ORDER BY json_extract(doc, '$.lastSeen') DESC, site, key LIMIT ? OFFSET ?`,
      )
      .all(...args, q.limit, q.offset) as Array<{ site: string; doc: string }>
  ).map((r) => {
    const { timeline: _t, ...i } = parse(r.doc);
    return {
      tactics: [],
      techniques: [],
      detectionIds: [],
      zones: [],
      ...i,
      site: r.site,
    };
  });
  return { total, items };
}

export interface FleetAudit {
  items: Row[];
  /** Each site's chain as the manager checked it. */
  chains: ChainCheck[];
}

export function fleetAudit(db: FleetDb, sel: SiteSel, limit: number): FleetAudit {
  const [w, args] = bySite(sel);
  const items = (
    db
      .prepare(
        `SELECT site, seq, at, actor, action, subject, simulation_id AS simulationId, details, prev_hash AS prevHash,
           hash, key_id AS keyId FROM fleet_audit WHERE 1 = 1${w} ORDER BY at DESC, site, seq DESC LIMIT ?`,
      )
      .all(...args, limit) as Array<Row & { details: string }>
  ).map((r) => ({ ...r, details: parse(r.details) }));
  const sites = sel === ALL ? siteNames(db) : [sel];
  return { items, chains: sites.map((s) => checkSiteChain(db, s)) };
}

export interface SiteSummary {
  site: string;
  assets: number;
  edges: number;
  incidents: { open: number; total: number };
  detections: number;
  audit: { status: ChainCheck['status']; entries: number; problems: number };
  refused: number;
}

/** Per site: what the manager holds of it, its audit chain's state, and how many records it refused. */
export function fleetOverview(
  db: FleetDb,
  sel: SiteSel,
): { sites: SiteSummary[]; refused: Rejects[] } {
  const sites = sel === ALL ? siteNames(db) : [sel];
  const count = db.prepare(
    "SELECT type, count(*) AS n, sum(json_extract(doc, '$.status') <> 'closed') AS open FROM fleet_items WHERE site = ? AND deleted = 0 GROUP BY type",
  );
  const dets = db.prepare(
    "SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = 'detection'",
  );
  const rejects = readRejects(db).filter((r) => sel === ALL || r.site === sel);
  return {
    sites: sites.map((site) => {
      const c = new Map(
        (count.all(site) as Array<{ type: string; n: number; open: number | null }>).map((r) => [
          r.type,
          r,
        ]),
      );
      const chain = checkSiteChain(db, site);
      return {
        site,
        assets: c.get('asset')?.n ?? 0,
        edges: c.get('edge')?.n ?? 0,
        incidents: { open: c.get('incident')?.open ?? 0, total: c.get('incident')?.n ?? 0 },
        detections: (dets.get(site) as { n: number }).n,
        audit: { status: chain.status, entries: chain.entries, problems: chain.problems.length },
        refused: rejects.filter((r) => r.site === site).reduce((s, r) => s + r.n, 0),
      };
    }),
    refused: rejects,
  };
}
