import type { Edge, InventorySnapshot } from './model.js';

/** What normal looks like on one edge, learned from traffic an analyst vouched for. */
export interface EdgeProfile {
  id: string;
  client: string;
  server: string;
  transport: Edge['transport'];
  port: number;
  protocols: string[];
  /** Function codes seen, as 'protocol:func'. */
  functions: string[];
  /** Address ranges read and written, per address space. */
  reads: Record<string, Array<[number, number]>>;
  writes: Record<string, Array<[number, number]>>;
  /** Observed value range per 'space:address' (registers, points) where values were visible. */
  values: Record<string, [min: number, max: number]>;
  pollInterval: number | null;
  pollJitter: number | null;
  /** Longest pause between requests while learning, seconds. */
  maxRequestGap: number;
  /** Requests per second while the edge was active, and how many were seen. */
  requestRate: number;
  requests: number;
  /** Kinds of malformed PDUs this edge produced while learning (some devices are just like that). */
  anomalyKinds: string[];
  firstSeen: number;
  lastSeen: number;
}

/** A versioned, reviewable notion of normal: which assets exist and how each edge behaves. */
export interface Baseline {
  version: number;
  createdAt: string;
  /** Captures or live windows it was learned from, and what an analyst noted when accepting it. */
  sources: string[];
  note: string;
  /** Learning window, epoch seconds. */
  from: number;
  to: number;
  assets: string[];
  /** IP → MAC pairs seen (announced by ARP/DHCP or observed), for spoofing checks. */
  macs: Record<string, string>;
  edges: Record<string, EdgeProfile>;
}

export function functionKey(protocol: string, func: number): string {
  return `${protocol}:${func}`;
}

/** Fold an inventory (and the value ranges seen while learning it) into a baseline. */
export function baselineFrom(
  snap: InventorySnapshot,
  values: Map<string, Record<string, [number, number]>>,
  meta: { version: number; sources: string[]; note?: string },
): Baseline {
  const edges: Record<string, EdgeProfile> = {};
  let from = Infinity,
    to = -Infinity;
  for (const e of snap.edges) {
    from = Math.min(from, e.firstSeen);
    to = Math.max(to, e.lastSeen);
    const reads: EdgeProfile['reads'] = {},
      writes: EdgeProfile['writes'] = {};
    for (const t of e.targets) (t.access === 'write' ? writes : reads)[t.space] = t.ranges;
    const active = Math.max(e.lastSeen - e.firstSeen, 1);
    edges[e.id] = {
      id: e.id,
      client: e.client,
      server: e.server,
      transport: e.transport,
      port: e.port,
      protocols: e.protocols.length ? e.protocols : [e.protocol],
      functions: [...new Set(e.functions.map((f) => functionKey(f.protocol, f.func)))],
      reads,
      writes,
      values: values.get(e.id) ?? {},
      pollInterval: e.pollInterval,
      pollJitter: e.pollJitter,
      maxRequestGap: e.maxRequestGap ?? 0,
      requestRate: e.requests / active,
      requests: e.requests,
      anomalyKinds: e.anomalyKinds ?? [],
      firstSeen: e.firstSeen,
      lastSeen: e.lastSeen,
    };
  }
  const macs: Record<string, string> = {};
  for (const a of snap.assets) if (a.mac) for (const ip of a.ips) macs[ip] = a.mac;
  // Every address of every asset is known (an asset may have IPv4 and link-local IPv6 addresses).
  const assets = [...new Set(snap.assets.flatMap((a) => [a.id, ...a.ips]))];
  return {
    version: meta.version,
    createdAt: new Date().toISOString(),
    sources: meta.sources,
    note: meta.note ?? '',
    from: Number.isFinite(from) ? from : 0,
    to: Number.isFinite(to) ? to : 0,
    assets,
    macs,
    edges,
  };
}
