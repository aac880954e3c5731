import type { Db } from '../../store/db.js';
import {
  edgesOf,
  getAsset,
  pairFunctions,
  queryAssets,
  queryDetections,
  topPairs,
} from '../../store/read-store.js';
import { activeZones } from '../../respond/zones.js';
import { NotFound } from '../../respond/detection-actions.js';

/** Above this many pairs the map leaves out what travels on each line, so large maps stay light. */
const MAP_FUNCTIONS_UP_TO = 300;

export interface AssetQuery {
  q?: string;
  role?: string;
  zone?: string;
  limit: number;
  offset: number;
}

/** A page of the inventory, each asset with the zone the active policy puts it in. */
export function assetsPage(db: Db, q: AssetQuery) {
  const cp = activeZones(db);
  // Zones are not stored: filtering by one reads every match, then pages in memory.
  const r = queryAssets(db, {
    text: q.q,
    role: q.role,
    limit: q.zone ? 100_000 : q.limit,
    offset: q.zone ? 0 : q.offset,
  });
  let items = r.items.map((a) => ({ ...a, zone: cp?.zoneOf(a.ips[0] ?? a.id)?.name ?? null }));
  let total = r.total;
  if (q.zone) {
    items = items.filter((a) => a.zone === q.zone);
    total = items.length;
    items = items.slice(q.offset, q.offset + q.limit);
  }
  return { total, items };
}

/** One asset's page: the asset and its zone, its edges and its detections. */
export function assetPage(db: Db, id: string) {
  const a = getAsset(db, id);
  if (a === null) throw new NotFound('no such asset');
  const cp = activeZones(db);
  return {
    asset: { ...a, zone: cp?.zoneOf(a.ips[0] ?? a.id)?.name ?? null },
    edges: edgesOf(db, a.ips.length ? a.ips : [a.id], 500),
    detections: queryDetections(db, { ip: a.ips[0] ?? a.id, limit: 200, offset: 0 }).items,
  };
}

/** The communication map: the busiest pairs, their ends as nodes with role, name and zone. */
export function networkMap(db: Db, q: { limit: number; group: boolean }) {
  const cp = activeZones(db);
  const edges = topPairs(db, q.limit, q.group);
  const ips = new Set(edges.items.flatMap((e) => [e.client, e.server]));
  const assets = queryAssets(db, { ids: [...ips], limit: ips.size + 1, offset: 0 }).items;
  const byIp = new Map(assets.flatMap((a) => a.ips.map((ip) => [ip, a] as const)));
  return {
    totalPairs: edges.total,
    nodes: [...ips].map((ip) => ({
      id: ip,
      role: byIp.get(ip)?.role ?? 'unknown',
      name: byIp.get(ip)?.hostnames[0] ?? null,
      zone: cp?.zoneOf(ip)?.name ?? null,
    })),
    // Small maps name what travels on each line; large ones stay light.
    edges:
      edges.items.length <= MAP_FUNCTIONS_UP_TO
        ? edges.items.map((e) => ({ ...e, functions: pairFunctions(db, e.client, e.server) }))
        : edges.items,
  };
}
