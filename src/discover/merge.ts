import type { Asset, Edge, FunctionStats, TargetRanges } from './model.js';
import { MAX_RANGES, RangeSet } from './ranges.js';
import { IDENTITY_PROTOCOLS } from './services.js';

/**
 * Bounds on what one asset or edge keeps, so hostile traffic cannot grow a record without limit. What a
 * bound turns away is counted under its `capped` key, never dropped silently.
 */
export const LIMITS = {
  /** Addresses per asset (an IPv4 address and its link-local IPv6 twins). */
  ips: 16,
  /** Host names per asset (DNS answers can name one address many times). */
  hostnames: 32,
  /** Distinct function codes per edge. */
  functions: 256,
  /** Address spaces per edge. */
  spaces: 64,
  /** Kinds of malformed PDUs per edge. */
  anomalyKinds: 16,
} as const;

export type Capped = Record<string, number>;

export function countCapped(capped: Capped, what: string, n = 1): void {
  capped[what] = (capped[what] ?? 0) + n;
}

/** Add `x` to a bounded list of distinct values; counts under `what` when the list is full. */
export function addBounded<T>(list: T[], x: T, max: number, capped: Capped, what: string): void {
  if (list.includes(x)) return;
  if (list.length < max) list.push(x);
  else countCapped(capped, what);
}

/** The identity facts an asset keeps (what devices disclose about themselves). */
export const IDENTITY_KEYS = [
  'vendor',
  'product',
  'model',
  'firmware',
  'hardware',
  'serial',
  'deviceType',
  'plcMode',
] as const;

/**
 * Fold `from` (a later or parallel observation of the same device) into `into`: counters add up, first seen
 * is the earliest, last seen the latest, lists are united, and an identity fact `from` disclosed replaces the
 * stored one unless the stored one was seen later (capture time). Roles are not merged: they are inferred again from the
 * merged facts.
 */
export function mergeAsset(into: Asset, from: Asset, capped: Capped): Asset {
  for (const ip of from.ips) addBounded(into.ips, ip, LIMITS.ips, capped, 'asset_addresses');
  if (from.mac !== null) {
    into.mac = from.mac;
    into.macVendor = from.macVendor ?? into.macVendor;
  }
  if (from.behindRouter !== undefined) {
    into.behindRouter = from.behindRouter;
    // A record stored before the router was recognised named the router's MAC as the device's own.
    if (into.mac === from.behindRouter.mac) {
      into.mac = null;
      into.macVendor = null;
    }
  }
  for (const h of from.hostnames)
    addBounded(into.hostnames, h, LIMITS.hostnames, capped, 'asset_hostnames');
  for (const k of IDENTITY_KEYS) {
    const v = from.identity[k];
    if (v === undefined || v === '') continue;
    // By capture time, not by merge order: an older capture merged later does not undo what is known since.
    const was = into.identityTimes?.[k],
      at = from.identityTimes?.[k];
    if (was !== undefined && at !== undefined && at < was) continue;
    into.identity[k] = v;
    const src = from.identitySources[k];
    if (src !== undefined) into.identitySources[k] = src;
    if (at !== undefined) (into.identityTimes ??= {})[k] = at;
  }
  for (const p of from.serves) if (!into.serves.includes(p)) into.serves.push(p);
  for (const p of from.uses) if (!into.uses.includes(p)) into.uses.push(p);
  into.firstSeen = Math.min(into.firstSeen, from.firstSeen);
  into.lastSeen = Math.max(into.lastSeen, from.lastSeen);
  into.packetsSent += from.packetsSent;
  into.bytesSent += from.bytesSent;
  into.packetsReceived += from.packetsReceived;
  into.bytesReceived += from.bytesReceived;
  return into;
}

/**
 * Fold `from` into `into` (same client, server, transport and port): packets, bytes, requests and function
 * counts add up, address ranges and protocols are united, the newer polling estimate wins.
 */
export function mergeEdge(into: Edge, from: Edge, capped: Capped): Edge {
  for (const p of from.protocols) if (!into.protocols.includes(p)) into.protocols.push(p);
  // The first industrial protocol seen names the edge; a port guess gives way to a dissected protocol.
  if (!isDissected(into.protocol, into.protocols) && isDissected(from.protocol, from.protocols))
    into.protocol = from.protocol;
  into.packets += from.packets;
  into.bytes += from.bytes;
  into.firstSeen = Math.min(into.firstSeen, from.firstSeen);
  into.lastSeen = Math.max(into.lastSeen, from.lastSeen);
  into.requests += from.requests;
  into.responses += from.responses;
  into.anomalies += from.anomalies;
  for (const k of from.anomalyKinds ?? [])
    addBounded((into.anomalyKinds ??= []), k, LIMITS.anomalyKinds, capped, 'edge_anomaly_kinds');
  into.functions = mergeFunctions(into.functions, from.functions, capped);
  into.targets = mergeTargets(into.targets, from.targets, capped);
  if (from.pollInterval !== null) {
    into.pollInterval = from.pollInterval;
    into.pollJitter = from.pollJitter;
  }
  into.maxRequestGap = Math.max(into.maxRequestGap ?? 0, from.maxRequestGap ?? 0);
  return into;
}

function isDissected(protocol: string, protocols: string[]): boolean {
  return protocols.includes(protocol) && !IDENTITY_PROTOCOLS.has(protocol);
}

function mergeFunctions(a: FunctionStats[], b: FunctionStats[], capped: Capped): FunctionStats[] {
  const out = new Map<string, FunctionStats>();
  for (const f of a) out.set(`${f.protocol}:${f.func}`, { ...f });
  for (const f of b) {
    const k = `${f.protocol}:${f.func}`;
    const g = out.get(k);
    if (g !== undefined) {
      g.count += f.count;
      g.writes += f.writes;
      g.exceptions += f.exceptions;
      g.name ||= f.name;
    } else if (out.size < LIMITS.functions) out.set(k, { ...f });
    else countCapped(capped, 'edge_functions', f.count);
  }
  return [...out.values()].sort((x, y) =>
    x.protocol < y.protocol ? -1 : x.protocol > y.protocol ? 1 : x.func - y.func,
  );
}

function mergeTargets(a: TargetRanges[], b: TargetRanges[], capped: Capped): TargetRanges[] {
  const sets = new Map<string, { space: string; access: TargetRanges['access']; set: RangeSet }>();
  const add = (t: TargetRanges): void => {
    const k = `${t.access} ${t.space}`;
    let s = sets.get(k);
    if (s === undefined) {
      if (sets.size >= 2 * LIMITS.spaces) {
        countCapped(capped, 'edge_address_spaces');
        return;
      }
      s = { space: t.space, access: t.access, set: new RangeSet(MAX_RANGES) };
      sets.set(k, s);
    }
    for (const [lo, hi] of t.ranges)
      if (!s.set.add(lo, hi - lo + 1)) countCapped(capped, 'edge_address_ranges');
  };
  for (const t of a) add(t);
  for (const t of b) add(t);
  return [...sets.values()].map((s) => ({
    space: s.space,
    access: s.access,
    ranges: s.set.toArray(),
  }));
}
