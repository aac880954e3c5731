import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import type { Asset, AssetRole, Edge } from '../discover/model.js';
import { RangeSet } from '../discover/ranges.js';
import { PROTOCOL_PORTS } from './load.js';
import type { AddressRanges, ContextGroup, Conduit, NamedAsset, Policy, Zone } from './model.js';
import { functionCodeCategory, isIndustrial } from '../dissect/registry.js';
import { READ_ONLY_CATEGORIES } from './evaluate.js';

/** IEC 62443 style tiers: controllers in one zone, the people and servers that supervise them in another. */
const TIER: Record<AssetRole, 'control' | 'supervisory' | 'other'> = {
  plc: 'control',
  rtu: 'control',
  io_device: 'control',
  bacnet_device: 'control',
  hmi: 'supervisory',
  engineering_workstation: 'supervisory',
  historian: 'supervisory',
  scada_server: 'supervisory',
  network_device: 'other',
  dhcp_server: 'other',
  dns_server: 'other',
  workstation: 'other',
  scanner: 'other',
  unknown: 'other',
};
const TIER_LEVEL: Record<string, number> = { control: 3, supervisory: 2, other: 1 };
/** More ranges than this in one space are widened to their span: a readable policy beats a perfect one. */
const MAX_RANGES = 12;
/** Names in a policy file are at most this long (schema); room is left for a -N suffix. */
const MAX_NAME = 64;

/**
 * A least-privilege candidate policy from a learned baseline: a zone per tier, a conduit per pair of zones
 * that talk, and one context group per learned flow with exactly the functions and addresses it used. Zones
 * start at `observe`: the ladder is climbed by proposals, not by this command.
 */
export function proposePolicy(
  b: Baseline,
  assets: Asset[],
  opts: { site?: string; timezone?: string; edges?: Edge[] } = {},
): Policy {
  // The inventory knows which requests changed state (writes, control); the baseline keeps only function codes.
  const writers = new Set(
    (opts.edges ?? []).filter((e) => e.functions.some((f) => f.writes > 0)).map((e) => e.id),
  );
  const byIp = new Map<string, Asset>();
  for (const a of assets) for (const ip of a.ips) byIp.set(ip, a);
  const hosts = new Set<string>();
  // Broadcast and multicast servers stay (BACnet Who-Is, I-Am); they just get no zone.
  const edges = Object.values(b.edges).filter((e) => e.transport !== 'ip' && isUnicast(e.client));
  for (const e of edges) {
    hosts.add(e.client);
    if (isUnicast(e.server)) hosts.add(e.server);
  }

  const names = new Map<string, string>();
  const used = new Set<string>();
  const named: NamedAsset[] = [];
  for (const ip of [...hosts].sort(compareIp)) {
    const a = byIp.get(ip);
    const base = sanitize(
      a?.hostnames[0] ??
        `${(a?.role ?? 'host').replace(/_/g, '-')}-${ip.split(/[.:]/).filter(Boolean).at(-1)}`,
    ).slice(0, MAX_NAME - 6);
    let n = base,
      i = 2;
    while (used.has(n)) n = `${base}-${i++}`;
    used.add(n);
    names.set(ip, n);
    // The MAC (none for hosts behind a router) lets the zone's layer-2 rules know the asset's frames.
    named.push({ name: n, ip, ...(a ? { role: a.role } : {}), ...(a?.mac ? { mac: a.mac } : {}) });
  }

  const tierOf = (ip: string): string => TIER[byIp.get(ip)?.role ?? 'unknown'];
  const members = new Map<string, string[]>();
  for (const ip of [...hosts].sort(compareIp)) {
    const t = tierOf(ip);
    members.set(t, [...(members.get(t) ?? []), names.get(ip)!]);
  }
  const zones: Zone[] = [...members]
    .sort((x, y) => TIER_LEVEL[y[0]]! - TIER_LEVEL[x[0]]!)
    .map(([t, m]) => ({
      name: t,
      description: describeTier(t),
      members: m,
      securityLevel: t === 'control' ? 3 : 2,
      mode: 'observe',
      internal: 'restrict',
      approvals: ['security', 'engineering', 'operations'],
      simulationWindow: 7 * 86400,
    }));

  const conduits = new Map<string, Conduit>();
  const groups: ContextGroup[] = [];
  const groupNames = new Set<string>();
  for (const e of edges.sort((x, y) => x.id.localeCompare(y.id))) {
    const from = tierOf(e.client),
      to = isUnicast(e.server) ? tierOf(e.server) : null;
    let conduit: string | undefined;
    if (to !== null && from !== to) {
      conduit = `${from}-to-${to}`;
      if (!conduits.has(conduit)) conduits.set(conduit, { name: conduit, from, to });
    }
    for (const g of groupsFor(
      e,
      names.get(e.client)!,
      names.get(e.server) ?? e.server,
      conduit,
      writers.has(e.id),
    )) {
      const base = g.name.slice(0, MAX_NAME - 6);
      let n = base,
        i = 2;
      while (groupNames.has(n)) n = `${base}-${i++}`;
      groupNames.add(n);
      groups.push({ ...g, name: n });
    }
  }
  return {
    site: opts.site ?? '',
    timezone: opts.timezone ?? 'UTC',
    assets: named,
    zones,
    conduits: [...conduits.values()],
    groups,
    windows: [],
  };
}

function groupsFor(
  e: EdgeProfile,
  client: string,
  server: string,
  conduit: string | undefined,
  wrote: boolean,
): ContextGroup[] {
  const transport = e.transport as 'tcp' | 'udp';
  const ics = e.protocols.filter((p) => isIndustrial(p));
  // CIP rides in EtherNet/IP and S7comm-plus beside S7comm: one group speaks for the family.
  const primary = ics.includes('cip')
    ? ['cip']
    : ics.includes('s7comm')
      ? ['s7comm']
      : ics.filter((p) => PROTOCOL_PORTS[p] !== undefined);
  const base = { conduit, clients: [client], servers: [server], transport, ports: [e.port] };
  if (primary.length === 0) {
    return [
      {
        name: `${client}-to-${server}-${transport}-${e.port}`,
        description: 'learned flow',
        ...base,
        access: 'read-write',
      },
    ];
  }
  return primary.map((protocol) => {
    const funcs = e.functions
      .filter((k) => k.startsWith(`${protocol}:`))
      .map((k) => Number(k.slice(k.lastIndexOf(':') + 1)))
      .filter((f) => f >= 0)
      .sort((a, b) => a - b);
    const addresses: AddressRanges = {};
    for (const space of new Set([...Object.keys(e.reads), ...Object.keys(e.writes)])) {
      const set = new RangeSet();
      for (const [lo, hi] of [...(e.reads[space] ?? []), ...(e.writes[space] ?? [])])
        set.add(lo, hi - lo + 1);
      const rs = set.toArray();
      addresses[space] = rs.length > MAX_RANGES ? [[rs[0]![0], rs.at(-1)![1]]] : rs;
    }
    const writes = wrote || Object.keys(e.writes).length > 0 || e.functions.some(changesDevice);
    return {
      name: `${client}-to-${server}-${protocol}`,
      description: `learned: ${e.requests} requests${e.pollInterval ? `, polled every ${e.pollInterval.toFixed(2)} s` : ''}`,
      ...base,
      protocol,
      functions: funcs.length ? funcs : undefined,
      addresses: Object.keys(addresses).length ? addresses : undefined,
      access: writes ? 'read-write' : 'read-only',
    };
  });
}

/**
 * Whether a learned function key ('protocol:code') is one a read-only group refuses: writes, control, program
 * transfer, configuration, and codes whose meaning depends on a sub-function the baseline does not keep.
 */
function changesDevice(key: string): boolean {
  const at = key.lastIndexOf(':');
  return !READ_ONLY_CATEGORIES.has(
    functionCodeCategory(key.slice(0, at), Number(key.slice(at + 1))),
  );
}

function describeTier(t: string): string {
  return t === 'control'
    ? 'controllers and field devices (Purdue level 1)'
    : t === 'supervisory'
      ? 'HMIs, SCADA, historians and engineering workstations (level 2)'
      : 'other hosts seen on the control network';
}

function isUnicast(ip: string): boolean {
  if (ip.includes(':')) return !ip.toLowerCase().startsWith('ff');
  const first = Number(ip.split('.')[0]);
  return first < 224 && !ip.endsWith('.255') && ip !== '0.0.0.0';
}

function sanitize(s: string): string {
  const n = s
    .replace(/[^A-Za-z0-9_.:-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 60);
  return n || 'host';
}

function compareIp(a: string, b: string): number {
  const na = a.split('.').map(Number),
    nb = b.split('.').map(Number);
  if (na.length === 4 && nb.length === 4 && !na.some(Number.isNaN) && !nb.some(Number.isNaN)) {
    for (let i = 0; i < 4; i++) if (na[i] !== nb[i]) return na[i]! - nb[i]!;
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
