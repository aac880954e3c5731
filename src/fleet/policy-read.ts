/**
 * The dashboard's policy, approvals and playbooks pages over what sites sent (manager.db), and the zones of
 * sites' assets. A site's zones come from its own active policy only, applied to its own assets only: a policy
 * whose zones name addresses another site holds gives that site's assets no zone, and addresses reused across
 * sites are never joined. These are read-only views: a site's proposals are approved at the site.
 */
import { CompiledPolicy } from '../policy/evaluate.js';
import type { Policy } from '../policy/model.js';
import type { FleetDb } from './fleet-db.js';
import { ACTIVE_POLICY_KEY, parseKept, type PolicyRecordDoc } from './site-policy-records.js';

interface Kept {
  doc: PolicyRecordDoc;
  version: number;
  updated: number;
}

/** Each site's compiled policy, kept while that policy stays the site's active one. */
const compiled = new Map<string, { sha: string; cp: CompiledPolicy | null }>();

function keptPolicy(db: FleetDb, site: string): Kept | null {
  const r = db
    .prepare(
      "SELECT doc, version, updated FROM fleet_items WHERE site = ? AND type = 'policy' AND key = ? AND deleted = 0",
    )
    .get(site, ACTIVE_POLICY_KEY) as { doc: string; version: number; updated: number } | undefined;
  if (r === undefined) return null;
  return { doc: JSON.parse(r.doc) as PolicyRecordDoc, version: r.version, updated: r.updated };
}

/** A site's active policy compiled (null: the site sent none). */
export function sitePolicy(db: FleetDb, site: string): (Kept & { cp: CompiledPolicy }) | null {
  const k = keptPolicy(db, site);
  if (k === null) return null;
  let hit = compiled.get(site);
  if (hit?.sha !== k.doc.sha) {
    const p = parseKept(k.doc);
    hit = { sha: k.doc.sha, cp: p === null ? null : new CompiledPolicy(p) };
    compiled.set(site, hit);
  }
  return hit.cp === null ? null : { ...k, cp: hit.cp };
}

/** The zone namer of each site's assets: `zoneOf(site, address)`, from that site's policy only. */
export function siteZones(db: FleetDb): (site: string, ip: string) => string | null {
  const per = new Map<string, CompiledPolicy | null>();
  return (site, ip) => {
    let cp = per.get(site);
    if (cp === undefined) {
      cp = sitePolicy(db, site)?.cp ?? null;
      per.set(site, cp);
    }
    return cp?.zoneOf(ip)?.name ?? null;
  };
}

/** A site's name, or '*' for all of them (as in aggregate-read.ts, which reads zones from here). */
type SiteSel = string;
const ALL = '*';
const sitesOf = (db: FleetDb, sel: SiteSel): string[] =>
  sel === ALL
    ? (
        db.prepare('SELECT site FROM fleet_sites ORDER BY site').all() as Array<{ site: string }>
      ).map((r) => r.site)
    : [sel];

/** A site's assets' first addresses (the address the zone is judged on, as on a single host). */
function assetAddresses(db: FleetDb, site: string): string[] {
  return (
    db
      .prepare(
        "SELECT key, json_extract(doc, '$.ips[0]') AS ip FROM fleet_items WHERE site = ? AND type = 'asset' AND deleted = 0",
      )
      .all(site) as Array<{ key: string; ip: unknown }>
  ).map((r) => (typeof r.ip === 'string' ? r.ip : r.key));
}

export interface SitePolicyView {
  site: string;
  sha: string;
  source: string;
  text: string;
  /** The version of the record the manager holds (each change the site makes is the next one). */
  version: number;
  appliedAt: string;
  /** When the manager received it (ms). */
  received: number;
  /** The policy's own `site:` name; the site it belongs to is the one it came from. */
  namedSite: string;
  zones: Array<{
    name: string;
    mode: string;
    approvals: string[];
    members: string[];
    securityLevel: number | null;
    /** How many of this site's assets the zone holds (of its members, the ones the site has seen). */
    assets: number;
    playbooks: number;
  }>;
  conduits: Policy['conduits'];
  groups: number;
}

/** The active policy of one site or of each site: zones with ladder modes, conduits, groups, the text. */
export function fleetPolicies(db: FleetDb, sel: SiteSel): { sites: SitePolicyView[] } {
  const out: SitePolicyView[] = [];
  for (const site of sitesOf(db, sel)) {
    const p = sitePolicy(db, site);
    if (p === null) continue;
    const held = new Map<string, number>();
    for (const ip of assetAddresses(db, site)) {
      const z = p.cp.zoneOf(ip)?.name;
      if (z !== undefined) held.set(z, (held.get(z) ?? 0) + 1);
    }
    const pol = p.cp.policy;
    out.push({
      site,
      sha: p.doc.sha,
      source: p.doc.source,
      text: p.doc.text,
      version: p.version,
      appliedAt: p.doc.appliedAt,
      received: p.updated,
      namedSite: pol.site,
      zones: pol.zones.map((z) => ({
        name: z.name,
        mode: z.mode,
        approvals: z.approvals,
        members: z.members,
        securityLevel: z.securityLevel ?? null,
        assets: held.get(z.name) ?? 0,
        playbooks: z.playbooks?.length ?? 0,
      })),
      conduits: pol.conduits,
      groups: pol.groups.length,
    });
  }
  return { sites: out };
}

const docsOf = (db: FleetDb, sel: SiteSel, type: string, order: string, limit: number) => {
  const [w, args] = sel === ALL ? ['', []] : [' AND site = ?', [sel]];
  return (
    db
      .prepare(
        `SELECT site, doc FROM fleet_items WHERE type = ? AND deleted = 0${w} ORDER BY ${order} LIMIT ?`,
      )
      .all(type, ...args, limit) as Array<{ site: string; doc: string }>
  ).map((r) => ({ ...(JSON.parse(r.doc) as Record<string, unknown>), site: r.site }));
};

/** The sites' change proposals with their approvals, newest first. */
export function fleetProposals(
  db: FleetDb,
  sel: SiteSel,
): { items: Array<Record<string, unknown>> } {
  return {
    items: docsOf(db, sel, 'proposal', "json_extract(doc, '$.createdAt') DESC, site, key", 1000),
  };
}

/** The sites' pre-approved playbooks (from each one's active policy) and what they did, newest first. */
export function fleetPlaybooks(db: FleetDb, sel: SiteSel, limit: number) {
  const policies: Array<{ site: string; policy: string }> = [];
  const playbooks: Array<Record<string, unknown>> = [];
  for (const site of sitesOf(db, sel)) {
    const p = sitePolicy(db, site);
    if (p === null) continue;
    policies.push({ site, policy: p.doc.sha.slice(0, 12) });
    for (const z of p.cp.policy.zones)
      for (const pb of z.playbooks ?? [])
        playbooks.push({ zone: z.name, approvals: z.approvals, ...pb, site });
  }
  return {
    policies,
    playbooks,
    actions: docsOf(db, sel, 'playbook', "json_extract(doc, '$.at') DESC, site, key", limit),
  };
}
