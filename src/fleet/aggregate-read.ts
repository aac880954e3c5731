/**
 * The dashboard's pages over what sites sent (manager.db): one site, or all of them merged with a site column.
 * Addresses repeat across sites (private address plans are reused), so every row names its site and the
 * merged view never joins rows of different sites.
 */
import { checkSiteChain, readRejects, type ChainCheck, type Rejects } from './aggregate-store.js';
import type { FleetDb } from './fleet-db.js';
import { siteZones } from './policy-read.js';

/** A site's name, or '*' for all of them (no site can be named '*'). */
export type SiteSel = string;
export const ALL = '*';

const bySite = (sel: SiteSel): [string, unknown[]] =>
  sel === ALL ? ['', []] : [' AND site = ?', [sel]];

export const parse = (doc: string): Record<string, unknown> => {
  try {
    const v: unknown = JSON.parse(doc);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

// Documents come from sites: the fields the pages read are given their shape here, so a site sending odd
// documents gets odd rows, never a page that fails to render for every site.
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const strOr = (v: unknown, d: string | null): string | null => (typeof v === 'string' ? v : d);
const numOr = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function assetShape(d: Record<string, unknown>, key: string): Record<string, unknown> {
  const id =
    d.identity !== null && typeof d.identity === 'object' && !Array.isArray(d.identity)
      ? (d.identity as Record<string, unknown>)
      : {};
  return {
    ...d,
    id: key,
    ips: strs(d.ips),
    hostnames: strs(d.hostnames),
    macVendor: strOr(d.macVendor, null),
    role: strOr(d.role, 'unknown'),
    identity: Object.fromEntries(
      Object.entries(id).filter(([, v]) => typeof v === 'string' || typeof v === 'number'),
    ),
    serves: strs(d.serves),
    uses: strs(d.uses),
  };
}

export function incidentShape(d: Record<string, unknown>, key: string): Record<string, unknown> {
  return {
    ...d,
    id: key,
    title: strOr(d.title, key),
    status: strOr(d.status, 'open'),
    severity: strOr(d.severity, 'low'),
    firstSeen: numOr(d.firstSeen),
    lastSeen: numOr(d.lastSeen),
    tactics: strs(d.tactics),
    techniques: strs(d.techniques),
    detectionIds: strs(d.detectionIds),
    zones: strs(d.zones),
  };
}

export function siteNames(db: FleetDb): string[] {
  return (
    db.prepare('SELECT site FROM fleet_sites ORDER BY site').all() as Array<{ site: string }>
  ).map((r) => r.site);
}

type Row = Record<string, unknown> & { site: string };

export function fleetAssets(
  db: FleetDb,
  sel: SiteSel,
  q: { q?: string; role?: string; zone?: string; limit: number; offset: number },
): { total: number; items: Row[] } {
  const zoneOf = siteZones(db);
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
  // Zones are not stored (each site's policy places its own assets): filtering by one reads every match.
  const items = (
    db
      .prepare(`SELECT site, key, doc ${from} ORDER BY site, key LIMIT ? OFFSET ?`)
      .all(...args, q.zone ? -1 : q.limit, q.zone ? 0 : q.offset) as Array<{
      site: string;
      key: string;
      doc: string;
    }>
  ).map((r) => {
    const a = assetShape(parse(r.doc), r.key);
    return { ...a, zone: zoneOf(r.site, (a.ips as string[])[0] ?? r.key), site: r.site };
  });
  if (!q.zone) return { total, items };
  const inZone = items.filter((a) => a.zone === q.zone);
  return { total: inZone.length, items: inZone.slice(q.offset, q.offset + q.limit) };
}

const TEXT_ENDS = "json_type(doc, '$.client') = 'text' AND json_type(doc, '$.server') = 'text'";

/** The map's busiest pairs from sites' edges; in the merged view node ids are `site/address`. */
export function fleetMap(db: FleetDb, sel: SiteSel, limit: number) {
  const [w, args] = bySite(sel);
  const pairs = db
    .prepare(
      `SELECT site, json_extract(doc, '$.client') AS client, json_extract(doc, '$.server') AS server,
         group_concat(DISTINCT json_extract(doc, '$.protocol')) AS protocols, count(*) AS services,
         min(json_extract(doc, '$.protocol')) AS firstService, sum(json_extract(doc, '$.packets')) AS packets
       FROM fleet_items WHERE type = 'edge' AND deleted = 0${w} AND ${TEXT_ENDS}
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
        `SELECT count(*) AS n FROM (SELECT 1 FROM fleet_items WHERE type = 'edge' AND deleted = 0${w} AND ${TEXT_ENDS}
         GROUP BY site, json_extract(doc, '$.client'), json_extract(doc, '$.server'))`,
      )
      .get(...args) as { n: number }
  ).n;
  const id = (site: string, ip: string): string => (sel === ALL ? `${site}/${ip}` : ip);
  const asset = db.prepare(
    "SELECT doc FROM fleet_items WHERE site = ? AND type = 'asset' AND key = ? AND deleted = 0",
  );
  const zoneOf = siteZones(db);
  const nodes = new Map<
    string,
    { id: string; role: string; name: string | null; zone: string | null; site: string }
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
        zone: zoneOf(p.site, ip),
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
        `SELECT site, key, doc ${from} ORDER BY json_extract(doc, '$.lastSeen') DESC, site, key LIMIT ? OFFSET ?`,
      )
      .all(...args, q.limit, q.offset) as Array<{ site: string; key: string; doc: string }>
  ).map((r) => {
    const { timeline: _t, ...i } = parse(r.doc);
    return { ...incidentShape(i, r.key), site: r.site };
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
