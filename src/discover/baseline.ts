import type { Edge, InventorySnapshot } from './model.js';
import { ioPeriod, type IoConnection } from './io-connections.js';

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
  /**
   * EtherNet/IP class 0/1 I/O connection directions (by ioProfileKey): the interval their Forward_Open agreed
   * and the one the producer kept. Absent in baselines learned before it was.
   */
  io?: Record<string, IoProfile>;
}

/** One direction of a cyclic I/O connection as learned: the agreed RPI and the observed interval and spread. */
export interface IoProfile {
  producer: string;
  consumer: string;
  direction: 'O->T' | 'T->O';
  /** Actual packet interval the Forward_Open reply granted (µs). */
  rpiUs: number;
  packets: number;
  /** Median gap between datagrams while learning (µs), and its interquartile range. */
  intervalUs: number;
  spreadUs: number;
}

/**
 * Connection ids change with every Forward_Open, so a direction is known by its producer, consumer and granted
 * RPI: a reconnect with the same settings is the same connection, two connections of a pair at different
 * intervals stay apart.
 */
export function ioProfileKey(producer: string, consumer: string, rpiUs: number): string {
  return `${producer}>${consumer}@${rpiUs}`;
}

export function functionKey(protocol: string, func: number): string {
  return `${protocol}:${func}`;
}

/** Fold an inventory (and the value ranges seen while learning it) into a baseline. */
export function baselineFrom(
  snap: InventorySnapshot,
  values: Map<string, Record<string, [number, number]>>,
  meta: { version: number; sources: string[]; note?: string },
  ioConnections: readonly IoConnection[] = [],
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
  // I/O directions with a steady interval; of several with one key (reconnects), the longest-running.
  const io: Record<string, IoProfile> = {};
  for (const c of ioConnections) {
    const p = ioPeriod(c);
    if (p === null) continue;
    const k = ioProfileKey(c.producer, c.consumer, c.rpiUs);
    if ((io[k]?.packets ?? 0) >= c.packets) continue;
    io[k] = {
      producer: c.producer,
      consumer: c.consumer,
      direction: c.direction,
      rpiUs: c.rpiUs,
      packets: c.packets,
      intervalUs: p.medianUs,
      spreadUs: p.spreadUs,
    };
  }
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
    ...(Object.keys(io).length ? { io } : {}),
  };
}
