import { UNWALKED, type Message } from '../dissect/message.js';
import type { FunctionCategory } from '../dissect/protocol.js';
import {
  classifies,
  functionCategory,
  isOpaque,
  PROTOCOLS,
  subFunctionKey,
} from '../dissect/registry.js';
import { HostSet, parseCidr, type Cidr } from './hosts.js';
import type { ContextGroup, Policy, TimeWindow, Zone } from './model.js';
import { dayMask, inWindow, LocalClock } from './windows.js';

/** Why a policy would refuse traffic. */
export type BlockReason =
  | 'no_rule'
  | 'outside_window'
  | 'function_not_allowed'
  | 'write_not_allowed'
  | 'address_not_allowed'
  | 'protocol_not_allowed'
  | 'unknown_function'
  | 'malformed_pdu'
  | 'not_a_request'
  /** A request the gateway cannot read (OPC UA Sign/SignAndEncrypt) on a group that does not allow such. */
  | 'secured_channel';

/** What a read-only group admits: requests that read, identify, run the session or diagnose without change. */
export const READ_ONLY_CATEGORIES: ReadonlySet<FunctionCategory> = new Set([
  'read',
  'identity',
  'session',
  'diagnostic',
]);

export interface CompiledGroup {
  group: ContextGroup;
  clients: HostSet;
  servers: HostSet;
  ports: Set<number>;
  functions: Set<number> | null;
  windows: Array<{ w: TimeWindow; mask: number; clock: LocalClock }>;
  /** Addresses per space as sorted [lo, hi] ranges. */
  addresses: Map<string, Array<[number, number]>> | null;
  /** Station addresses (unit ids, link or common addresses) it may reach, or null for any. */
  units: Set<number> | null;
  /**
   * Checked request by request by the inline gateway (a TCP protocol whose file classifies its requests): such
   * groups refuse what a real client never sends — malformed PDUs, unknown functions, responses.
   */
  inspected: boolean;
}

/** What the policy says about one flow (client → server, transport, server port), worked out once per flow. */
export interface FlowRules {
  clientZone: Zone | null;
  serverZone: Zone | null;
  /** The zone whose ladder decides (the server's, else the client's); null when the policy does not cover the flow. */
  zone: Zone | null;
  /** Allowed whatever it carries: inside a zone that allows internal traffic. */
  open: boolean;
  groups: CompiledGroup[];
  timed: boolean;
}

/** Layers of one protocol family: a group for `enip` also carries the CIP it encapsulates (inner → carrier). */
const FAMILY: Record<string, string> = Object.fromEntries(
  PROTOCOLS.flatMap((p) => (p.carrier !== undefined && !p.foreign ? [[p.name, p.carrier]] : [])),
);

/** Inner protocols beside their carrier rather than inside it (see ProtocolDescriptor.sibling). */
const SIBLING: ReadonlySet<string> = new Set(PROTOCOLS.flatMap((p) => (p.sibling ? [p.name] : [])));

/** A loaded policy in the form the simulator and the gateway check traffic against. */
export class CompiledPolicy {
  readonly groups: CompiledGroup[];
  private readonly zoneSets: Array<[Zone, HostSet]>;
  private readonly zoneCache = new Map<string, Zone | null>();
  private readonly conduits: Map<string, { from: string; to: string }>;
  private readonly names = new Map<string, string>();

  constructor(readonly policy: Policy) {
    const assetIp = new Map(policy.assets.map((a) => [a.name, a.ip]));
    this.zoneSets = policy.zones.map((z) => [z, setOf(z.members.map((m) => assetIp.get(m) ?? m))]);
    const byZone = new Map(this.zoneSets.map(([z, s]) => [z.name, s]));
    for (const a of policy.assets) this.names.set(a.ip, a.name);
    const resolve = (hosts: string[]): HostSet => {
      const s = new HostSet();
      for (const h of hosts) {
        const zone = byZone.get(h);
        if (zone !== undefined) for (const b of zone.blocks) s.add(b);
        else {
          const c = parseCidr(assetIp.get(h) ?? h);
          if (c !== null) s.add(c);
        }
      }
      return s;
    };
    const windows = new Map(
      policy.windows.map((w) => [
        w.name,
        { w, mask: dayMask(w), clock: new LocalClock(w.timezone) },
      ]),
    );
    this.groups = policy.groups.map((g) => ({
      group: g,
      clients: resolve(g.clients),
      servers: resolve(g.servers),
      ports: new Set(g.ports),
      functions: g.functions ? new Set(g.functions) : null,
      windows: (g.windows ?? []).map((n) => windows.get(n)!).filter(Boolean),
      addresses: g.addresses
        ? new Map(
            Object.entries(g.addresses).map(([k, v]) => [k, [...v].sort((a, b) => a[0] - b[0])]),
          )
        : null,
      units: g.units ? new Set(g.units) : null,
      inspected: isInspected(g),
    }));
    this.conduits = new Map(policy.conduits.map((c) => [c.name, c]));
    // Most groups name single servers: index them by address so a policy of thousands of groups stays cheap.
    for (const c of this.groups) {
      const single = c.servers.blocks.every((b) => b.prefix === (b.family === 'ipv4' ? 32 : 128));
      if (!single) {
        this.wide.push(c);
        continue;
      }
      for (const b of c.servers.blocks) {
        const list = this.byServer.get(b.address);
        if (list) list.push(c);
        else this.byServer.set(b.address, [c]);
      }
    }
  }

  private readonly byServer = new Map<string, CompiledGroup[]>();
  private readonly wide: CompiledGroup[] = [];

  /** The address blocks of a zone (named assets resolved). */
  /**
   * Whether the policy names any IPv6 host (a zone member, a group's client or server). Zones are IPv4
   * otherwise, and the kernel then refuses IPv6 crossing the host while a zone enforces.
   */
  namesIpv6(): boolean {
    return (
      this.zoneSets.some(([, s]) => s.blocks.some((c) => c.family === 'ipv6')) ||
      this.groups.some((g) =>
        [...g.clients.blocks, ...g.servers.blocks].some((c) => c.family === 'ipv6'),
      )
    );
  }

  zoneBlocks(z: Zone): Cidr[] {
    return this.zoneSets.find(([x]) => x === z)?.[1].blocks ?? [];
  }

  /** The zone an address belongs to, or null. */
  zoneOf(ip: string): Zone | null {
    let z = this.zoneCache.get(ip);
    if (z === undefined) {
      z = this.zoneSets.find(([, s]) => s.has(ip))?.[0] ?? null;
      if (this.zoneCache.size > 100_000) this.zoneCache.clear();
      this.zoneCache.set(ip, z);
    }
    return z;
  }

  /** The policy's name for an address, or the address. */
  nameOf(ip: string): string {
    return this.names.get(ip) ?? ip;
  }

  /** The rules that can apply to a flow. */
  rules(client: string, server: string, transport: string, port: number): FlowRules {
    const clientZone = this.zoneOf(client),
      serverZone = this.zoneOf(server);
    const zone = serverZone ?? clientZone;
    const open = zone === null || (clientZone === serverZone && zone.internal === 'allow');
    const candidates = open ? [] : [...(this.byServer.get(server) ?? []), ...this.wide];
    const groups = candidates.filter(
      (c) =>
        c.group.transport === transport &&
        c.ports.has(port) &&
        c.clients.has(client) &&
        c.servers.has(server) &&
        this.conduitFits(c.group, clientZone, serverZone),
    );
    return {
      clientZone,
      serverZone,
      zone,
      open,
      groups,
      timed: groups.some((c) => c.windows.length > 0),
    };
  }

  private conduitFits(g: ContextGroup, from: Zone | null, to: Zone | null): boolean {
    if (g.conduit === undefined) return true;
    const c = this.conduits.get(g.conduit);
    return c !== undefined && c.from === from?.name && c.to === to?.name;
  }
}

function setOf(members: string[]): HostSet {
  const s = new HostSet();
  for (const m of members) {
    const c = parseCidr(m);
    if (c !== null) s.add(c);
  }
  return s;
}

/** Whether a group's time windows admit an instant (a group without windows always does). */
export function groupOpenAt(c: CompiledGroup, ts: number): boolean {
  if (c.windows.length === 0) return true;
  for (const x of c.windows) {
    const [day, minute] = x.clock.at(ts);
    if (inWindow(x.w, x.mask, day, minute)) return true;
  }
  return false;
}

/**
 * The group that lets a flow's packet at `ts` through, null when the flow is open (ungoverned or inside a
 * zone), or why it is refused.
 */
export function flowVerdict(r: FlowRules, ts: number): CompiledGroup | BlockReason | null {
  if (r.open || r.zone === null) return null;
  if (r.groups.length === 0) return 'no_rule';
  for (const c of r.groups) if (groupOpenAt(c, ts)) return c;
  return 'outside_window';
}

/**
 * The group that allows a request entirely (its protocol, function, write access and every address it
 * touches), null when the flow is open, or why every group of the flow refuses it.
 */
export function messageVerdict(r: FlowRules, m: Message): CompiledGroup | BlockReason | null {
  if (r.open || r.zone === null) return null;
  let reason: BlockReason = r.groups.length === 0 ? 'no_rule' : 'outside_window';
  let rank = 0;
  // What the request does is a property of the message, not of the group: classify it once.
  let category: FunctionCategory | undefined;
  for (const c of r.groups) {
    if (!groupOpenAt(c, m.ts)) continue;
    category ??= functionCategory(m);
    const why = groupRefuses(c, m, category);
    if (why === null) return c;
    // Report the most specific refusal among the groups that cover the flow.
    const k = RANK[why];
    if (k > rank) {
      rank = k;
      reason = why;
    }
  }
  return reason;
}

const RANK: Record<BlockReason, number> = {
  no_rule: 0,
  outside_window: 1,
  protocol_not_allowed: 2,
  not_a_request: 3,
  secured_channel: 4,
  malformed_pdu: 4,
  unknown_function: 5,
  function_not_allowed: 6,
  write_not_allowed: 7,
  address_not_allowed: 8,
};

/** Whether the gateway checks a group request by request (see CompiledGroup.inspected). */
export function isInspected(g: ContextGroup): boolean {
  return g.protocol !== undefined && g.transport === 'tcp' && classifies(g.protocol);
}

function groupRefuses(
  c: CompiledGroup,
  m: Message,
  category: FunctionCategory,
): BlockReason | null {
  const g = c.group;
  // Clients send requests (and link upkeep such as an IEC 104 TESTFR confirmation); anything else from them
  // is not what a real client sends on an inspected conduit.
  if (m.role !== 'request' && category !== 'session' && c.inspected) return 'not_a_request';
  if (m.role === 'response') return null;
  // Read-only is an allow-list: what the protocol's file does not call a read is refused.
  const readOnly = g.access === 'read-only';
  if (g.protocol === undefined) return readOnlyRefusal(g, category);
  const same = m.protocol === g.protocol;
  if (!same && FAMILY[m.protocol] !== g.protocol && FAMILY[g.protocol] !== m.protocol)
    return 'protocol_not_allowed';
  // A sibling is another protocol on the carrier's port, not a layer of it: a group for the sibling speaks for
  // none of the carrier's requests, and a carrier's group with function or address limits cannot name the
  // sibling's (S7comm-plus SetVariable would pass an S7comm group listing read_var); only an unlimited one,
  // which stands for the whole port, admits it, under its access.
  if (
    !same &&
    (SIBLING.has(g.protocol) ||
      (SIBLING.has(m.protocol) && (c.functions !== null || c.addresses !== null)))
  )
    return 'protocol_not_allowed';
  if (c.inspected && m.anomaly !== null) return 'malformed_pdu';
  // Unreadable content cannot be held to functions, addresses or read-only: the group says whether it passes.
  if (same && isOpaque(m)) return g.securedChannels === 'allow' ? null : 'secured_channel';
  const listed =
    same &&
    c.functions !== null &&
    m.func >= 0 &&
    (c.functions.has(m.func) || c.functions.has(subFunctionKey(m)));
  // Function and address lists speak the group protocol's language; other layers of the family pass.
  if (same && c.functions !== null && m.func >= 0 && !listed) return 'function_not_allowed';
  // A function the protocol's file does not know is only let through where the group names its code.
  if (c.inspected && category === 'unknown' && !listed) return 'unknown_function';
  if (readOnly && !READ_ONLY_CATEGORIES.has(category)) return 'write_not_allowed';
  if (!same) return null;
  // A station the group does not name (another slave behind a Modbus gateway, a broadcast unit or link
  // address) is another device: its registers are not the ones the address list speaks of. Link upkeep
  // without a station (IEC 104 U/S frames) names none.
  if (c.units !== null && m.unit >= 0 && !c.units.has(m.unit)) return 'address_not_allowed';
  if (c.addresses !== null && m.targets !== null) {
    for (const t of m.targets) {
      // More addresses than the dissector walked: none of them can be held to the list.
      if (t.space === UNWALKED) return 'address_not_allowed';
      if (t.count === 0) continue; // a DNP3 class request (g60) names no points
      const ranges = c.addresses.get(t.space);
      if (ranges === undefined || !covered(ranges, t.start, t.start + Math.max(1, t.count) - 1))
        return 'address_not_allowed';
    }
  }
  return null;
}

function readOnlyRefusal(g: ContextGroup, category: FunctionCategory): BlockReason | null {
  return g.access === 'read-only' && !READ_ONLY_CATEGORIES.has(category)
    ? 'write_not_allowed'
    : null;
}

/** Whether sorted ranges cover lo..hi entirely (adjacent ranges join). */
export function covered(ranges: Array<[number, number]>, lo: number, hi: number): boolean {
  let need = lo;
  for (const [a, b] of ranges) {
    if (a > need) return false;
    if (b >= need) need = b + 1;
    if (need > hi) return true;
  }
  return need > hi;
}
