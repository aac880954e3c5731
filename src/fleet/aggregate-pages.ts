/**
 * The remaining dashboard pages over what sites sent (manager.db): flows from the sites' edges, one site's
 * asset and incident, and vulnerabilities and risk scored per site with the same engines the single-host
 * pages use (src/assess), never a copy. Ids and addresses are per site: every row names its site, and each
 * site is assessed on its own inventory only (private address plans repeat across sites).
 */
import type { Asset, Edge, FunctionStats } from '../discover/model.js';
import type { Policy } from '../policy/model.js';
import type { AdvisoryIndex, Confidence } from '../assess/advisories/match.js';
import { assessVulnerabilities, type VulnerabilityReport } from '../assess/vulnerabilities.js';
import { exposurePaths } from '../assess/exposure.js';
import { assessRisk, type DetectionCount } from '../assess/risk.js';
import { planPatches } from '../assess/patch-plan.js';
import {
  ALL,
  assetShape,
  incidentShape,
  parse,
  siteNames,
  type SiteSel,
} from './aggregate-read.js';
import type { FleetDb } from './fleet-db.js';
import { sitePolicy, siteZones } from './policy-read.js';

/** Whether the manager knows a site of this name: one it heard from or holds records of. */
export function siteKnown(db: FleetDb, site: string): boolean {
  return (
    db
      .prepare(
        `SELECT 1 FROM fleet_sites WHERE site = @s UNION ALL SELECT 1 FROM fleet_items WHERE site = @s
         UNION ALL SELECT 1 FROM fleet_records WHERE site = @s LIMIT 1`,
      )
      .get({ s: site }) !== undefined
  );
}

const sitesOf = (db: FleetDb, sel: SiteSel): string[] => (sel === ALL ? siteNames(db) : [sel]);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);

// The assess engines read typed records: a site's documents are given that shape here, so an odd document
// from one site scores oddly, never throws for every site.
function siteAsset(d: Record<string, unknown>, key: string): Asset {
  const a = assetShape(d, key);
  return {
    ...(a as unknown as Asset),
    mac: str(d.mac) || null,
    identity: Object.fromEntries(
      Object.entries(a.identity as Record<string, unknown>).filter(
        ([, v]) => typeof v === 'string',
      ),
    ),
    identitySources: {},
    roleReasons: Array.isArray(d.roleReasons)
      ? d.roleReasons.filter((x): x is string => typeof x === 'string')
      : [],
    firstSeen: num(d.firstSeen),
    lastSeen: num(d.lastSeen),
  };
}

function functionsOf(v: unknown): FunctionStats[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((f): f is Record<string, unknown> => f !== null && typeof f === 'object')
    .map((f) => ({
      protocol: str(f.protocol),
      func: num(f.func),
      name: str(f.name),
      count: num(f.count),
      writes: num(f.writes),
      exceptions: num(f.exceptions),
    }));
}

function siteEdge(d: Record<string, unknown>, key: string): Edge {
  return {
    ...(d as unknown as Edge),
    id: key,
    client: str(d.client),
    server: str(d.server),
    protocol: str(d.protocol, 'unknown'),
    transport: str(d.transport) as Edge['transport'],
    port: num(d.port),
    packets: num(d.packets),
    bytes: num(d.bytes),
    firstSeen: num(d.firstSeen),
    lastSeen: num(d.lastSeen),
    functions: functionsOf(d.functions),
    targets: [],
  };
}

/** One site's inventory as the manager holds it, in the shapes the assess engines take. */
export function siteInventory(
  db: FleetDb,
  site: string,
  withEdges = true,
): { assets: Asset[]; edges: Edge[] } {
  const types = withEdges ? "('asset', 'edge')" : "('asset')";
  const rows = db
    .prepare(
      `SELECT type, key, doc FROM fleet_items WHERE site = ? AND type IN ${types} AND deleted = 0 ORDER BY key`,
    )
    .all(site) as Array<{ type: string; key: string; doc: string }>;
  const assets: Asset[] = [];
  const edges: Edge[] = [];
  for (const r of rows)
    if (r.type === 'asset') assets.push(siteAsset(parse(r.doc), r.key));
    else edges.push(siteEdge(parse(r.doc), r.key));
  return { assets, edges };
}

/** Open detections a site sent, counted per address and severity (as openDetectionsByAddress does locally). */
export function siteOpenDetections(db: FleetDb, site: string): Map<string, DetectionCount> {
  const out = new Map<string, DetectionCount>();
  const rows = db
    .prepare(
      `SELECT ip, sev, count(*) AS n FROM (
         SELECT json_extract(body, '$.src') AS ip, json_extract(body, '$.severity') AS sev, body FROM fleet_records
           WHERE site = ? AND kind = 'detection' AND json_valid(body) AND json_extract(body, '$.status') = 'open'
         UNION ALL
         SELECT json_extract(body, '$.dst'), json_extract(body, '$.severity'), body FROM fleet_records
           WHERE site = ? AND kind = 'detection' AND json_valid(body) AND json_extract(body, '$.status') = 'open'
             AND json_extract(body, '$.dst') IS NOT json_extract(body, '$.src')
       ) WHERE typeof(ip) = 'text' GROUP BY ip, sev`,
    )
    .all(site, site) as Array<{ ip: string; sev: unknown; n: number }>;
  for (const r of rows) {
    const c = out.get(r.ip) ?? { critical: 0, high: 0, medium: 0, low: 0 };
    if (r.sev === 'critical' || r.sev === 'high' || r.sev === 'medium') c[r.sev] += r.n;
    else c.low += r.n;
    out.set(r.ip, c);
  }
  return out;
}

export interface FleetFlow {
  site: string;
  id: string;
  client: string;
  server: string;
  protocol: string;
  transport: string;
  port: number;
  packets: number;
  bytes: number;
  firstSeen: number;
  lastSeen: number;
}

/** The sites' flows (their edges), busiest first, with each site's totals. */
export function fleetFlows(
  db: FleetDb,
  sel: SiteSel,
  q: { q?: string; limit: number; offset: number },
): {
  total: number;
  items: FleetFlow[];
  sites: Array<{ site: string; flows: number; packets: number; bytes: number }>;
} {
  let w = sel === ALL ? '' : ' AND site = ?';
  const args: unknown[] = sel === ALL ? [] : [sel];
  if (q.q) {
    w += " AND doc LIKE ? ESCAPE '\\'";
    args.push(`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  const from = `FROM fleet_items WHERE type = 'edge' AND deleted = 0${w}`;
  const total = (db.prepare(`SELECT count(*) AS n ${from}`).get(...args) as { n: number }).n;
  const items = (
    db
      .prepare(
        `SELECT site, key, doc ${from}
         ORDER BY coalesce(json_extract(doc, '$.packets'), 0) DESC, site, key LIMIT ? OFFSET ?`,
      )
      .all(...args, q.limit, q.offset) as Array<{ site: string; key: string; doc: string }>
  ).map((r): FleetFlow => {
    const e = siteEdge(parse(r.doc), r.key);
    return {
      site: r.site,
      id: e.id,
      client: e.client,
      server: e.server,
      protocol: e.protocol,
      transport: e.transport,
      port: e.port,
      packets: e.packets,
      bytes: e.bytes,
      firstSeen: e.firstSeen,
      lastSeen: e.lastSeen,
    };
  });
  const tot = db.prepare(
    `SELECT count(*) AS flows, coalesce(sum(json_extract(doc, '$.packets')), 0) AS packets,
       coalesce(sum(json_extract(doc, '$.bytes')), 0) AS bytes
     FROM fleet_items WHERE type = 'edge' AND deleted = 0 AND site = ?`,
  );
  const sites = sitesOf(db, sel).map((site) => ({
    site,
    ...(tot.get(site) as { flows: number; packets: number; bytes: number }),
  }));
  return { total, items, sites };
}

/** One site's asset with its flows and the detections the site sent about it; null when unknown there. */
export function fleetAsset(db: FleetDb, site: string, id: string) {
  const row = db
    .prepare(
      "SELECT doc FROM fleet_items WHERE site = ? AND type = 'asset' AND key = ? AND deleted = 0",
    )
    .get(site, id) as { doc: string } | undefined;
  if (row === undefined) return null;
  const asset = siteAsset(parse(row.doc), id);
  const zone = siteZones(db)(site, asset.ips[0] ?? id);
  // One JSON parameter, not one per address: a site can send an asset with thousands of addresses.
  const ends = JSON.stringify(asset.ips.length > 0 ? asset.ips : [id]);
  const marks = 'SELECT value FROM json_each(?)';
  const edges = (
    db
      .prepare(
        `SELECT key, doc FROM fleet_items WHERE site = ? AND type = 'edge' AND deleted = 0
           AND (json_extract(doc, '$.client') IN (${marks}) OR json_extract(doc, '$.server') IN (${marks}))
         ORDER BY coalesce(json_extract(doc, '$.packets'), 0) DESC, key LIMIT 500`,
      )
      .all(site, ends, ends) as Array<{ key: string; doc: string }>
  ).map((r) => siteEdge(parse(r.doc), r.key));
  const detections = (
    db
      .prepare(
        `SELECT body FROM fleet_records WHERE site = ? AND kind = 'detection' AND json_valid(body)
           AND (json_extract(body, '$.src') IN (${marks}) OR json_extract(body, '$.dst') IN (${marks}))
         ORDER BY at DESC, id LIMIT 200`,
      )
      .all(site, ends, ends) as Array<{ body: string }>
  ).map((r) => {
    const d = parse(r.body);
    return {
      id: str(d.id),
      type: str(d.type),
      severity: str(d.severity, 'low'),
      ts: num(d.ts),
      explanation: str(d.explanation),
      status: str(d.status),
    };
  });
  return { site, asset: { ...asset, zone }, edges, detections };
}

/** One site's incident with its timeline as the site sent it; null when unknown there. */
export function fleetIncident(db: FleetDb, site: string, id: string) {
  const row = db
    .prepare(
      "SELECT doc FROM fleet_items WHERE site = ? AND type = 'incident' AND key = ? AND deleted = 0",
    )
    .get(site, id) as { doc: string } | undefined;
  if (row === undefined) return null;
  const d = parse(row.doc);
  const arr = (v: unknown): Array<Record<string, unknown>> =>
    Array.isArray(v)
      ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object')
      : [];
  const strs = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  return {
    ...incidentShape(d, id),
    site,
    tactics: strs(d.tactics),
    techniques: strs(d.techniques),
    statusBy: str(d.statusBy) || null,
    statusAt: str(d.statusAt) || null,
    newSinceStatus: num(d.newSinceStatus),
    assets: arr(d.assets).map((a) => ({
      address: str(a.address),
      name: str(a.name) || null,
      role: str(a.role) || null,
      zone: str(a.zone) || null,
      part: str(a.part),
    })),
    notes: arr(d.notes).map((n) => ({ at: str(n.at), by: str(n.by), text: str(n.text) })),
    timeline: arr(d.timeline).map((s) => {
      const ev =
        s.evidence !== null && typeof s.evidence === 'object'
          ? (s.evidence as Record<string, unknown>)
          : {};
      return {
        detectionId: str(s.detectionId),
        type: str(s.type),
        severity: str(s.severity, 'low'),
        ts: num(s.ts),
        lastTs: num(s.lastTs),
        count: num(s.count),
        src: str(s.src),
        dst: str(s.dst),
        protocol: str(s.protocol),
        explanation: str(s.explanation),
        techniques: strs(s.techniques),
        tactics: strs(s.tactics),
        evidence: {
          frames: Array.isArray(ev.frames) ? ev.frames.filter((f) => typeof f === 'number') : [],
          fields:
            ev.fields !== null && typeof ev.fields === 'object' && !Array.isArray(ev.fields)
              ? ev.fields
              : {},
        },
      };
    }),
  };
}

/** A site's policy as the manager knows it (null: not known; the pages then say so, never invent zones). */
export type PolicyOf = (site: string) => Policy | null;
/** The active policy each site sent (policy-read.ts), applied to that site's own assets only. */
const keptPolicies =
  (db: FleetDb): PolicyOf =>
  (site) =>
    sitePolicy(db, site)?.cp.policy ?? null;

/** Each site's assets matched against the advisories with the single-host matching code; merged with a site column. */
export function fleetVulnerabilities(
  db: FleetDb,
  sel: SiteSel,
  index: AdvisoryIndex,
  o: { minConfidence: Confidence; now?: number; policyOf?: PolicyOf },
) {
  const sites = sitesOf(db, sel).map((site) => {
    const policy = (o.policyOf ?? keptPolicies(db))(site);
    const r = assessVulnerabilities(siteInventory(db, site, false).assets, index, {
      minConfidence: o.minConfidence,
      now: o.now,
      policy,
    });
    return { site, policyKnown: policy !== null, report: r };
  });
  return {
    minConfidence: o.minConfidence,
    zonesUnknown: sites.filter((s) => !s.policyKnown).map((s) => s.site),
    assets: sites.flatMap((s) => s.report.assets.map((a) => ({ ...a, site: s.site }))),
    byAdvisory: mergeImpacts(sites),
  };
}

function mergeImpacts(sites: Array<{ site: string; report: VulnerabilityReport }>) {
  const by = new Map<
    string,
    VulnerabilityReport['byAdvisory'][number] & {
      assets: Array<VulnerabilityReport['byAdvisory'][number]['assets'][number] & { site: string }>;
    }
  >();
  for (const { site, report } of sites)
    for (const a of report.byAdvisory) {
      const seen = by.get(a.advisoryId) ?? { ...a, assets: [] };
      seen.assets.push(...a.assets.map((x) => ({ ...x, site })));
      by.set(a.advisoryId, seen);
    }
  return [...by.values()].sort(
    (x, y) =>
      (y.cvss?.score ?? 0) - (x.cvss?.score ?? 0) || x.advisoryId.localeCompare(y.advisoryId),
  );
}

/**
 * Risk per site asset with the single-host scoring: exposure paths over the site's own edges, its advisory
 * matches, the open detections it sent, its own policy's zones. Without a policy from the site its zones are
 * unknown: assets are scored as in no zone and the site is listed in `zonesUnknown` so the page says so.
 */
export function fleetRisk(
  db: FleetDb,
  sel: SiteSel,
  index: AdvisoryIndex | null,
  o: { now?: number; policyOf?: PolicyOf } = {},
) {
  const per = sitesOf(db, sel).map((site) => {
    const policy = (o.policyOf ?? keptPolicies(db))(site);
    const inv = siteInventory(db, site);
    const exposure = exposurePaths(inv.assets, inv.edges, policy);
    const vulns = index ? assessVulnerabilities(inv.assets, index, { now: o.now, policy }) : null;
    const risk = assessRisk(
      inv.assets,
      exposure.paths,
      vulns,
      siteOpenDetections(db, site),
      policy,
    );
    return {
      site,
      policyKnown: policy !== null,
      targets: exposure.targets,
      paths: exposure.paths,
      risk,
      patchPlan: vulns ? planPatches(vulns, risk.assets, inv.edges) : [],
    };
  });
  const tag = <T>(site: string, xs: T[]) => xs.map((x) => ({ ...x, site }));
  return {
    zonesUnknown: per.filter((s) => !s.policyKnown).map((s) => s.site),
    exposure: {
      targets: per.reduce((n, s) => n + s.targets, 0),
      paths: per.flatMap((s) => tag(s.site, s.paths)),
    },
    risk: {
      assets: per
        .flatMap((s) => tag(s.site, s.risk.assets))
        .sort((x, y) => y.score - x.score || x.site.localeCompare(y.site)),
      // Zones only where the site's policy names them: "(no zone)" of an unknown policy is not a zone.
      zones: per.flatMap((s) => (s.policyKnown ? tag(s.site, s.risk.zones) : [])),
    },
    patchPlan: per.flatMap((s) => tag(s.site, s.patchPlan)),
  };
}

/** One site asset's advisories, matched and windowed as the site's page does (null: no such asset there). */
export function fleetAssetVulnerabilities(
  db: FleetDb,
  site: string,
  id: string,
  index: AdvisoryIndex | null,
  o: { minConfidence: Confidence; now?: number },
) {
  const a = fleetAsset(db, site, id);
  if (a === null) return null;
  if (index === null) return { maintenanceWindows: [], vulnerabilities: null };
  const r = assessVulnerabilities([a.asset], index, { ...o, policy: keptPolicies(db)(site) });
  return { maintenanceWindows: r.maintenanceWindows, vulnerabilities: r.assets[0] ?? null };
}
