import type { CompiledPolicy, CompiledGroup } from '../policy/evaluate.js';
import { ipv4Span, networkOf, type Cidr } from '../policy/hosts.js';
import { hhmm } from '../policy/windows.js';
import { packFlows, type FlowElem } from './nft-sets.js';
import { staleDirectRules } from './nft-stale.js';
import { nftTime, utcOffsetOf, windowSchedule, type OffsetOf } from './nft-windows.js';
import type { TimeWindow, Zone } from '../policy/model.js';
import { layer2Zones } from '../policy/layer2.js';
import { layer2Rules } from './nft-layer2.js';

/** Where the enforcement host sits: a bridge between plant segments, or a router between subnets. */
export type NftFamily = 'bridge' | 'inet';

export const TABLE = 'weir';
/** Comment of the stealth rule: status finds stealth mode by it and counts the frames it held back. */
export const STEALTH_RULE = 'stealth: the host sends nothing on the bridge';
/** Packet mark of frames the bridge hands to the gateway ("WE"). */
const STEER_MARK = 0x5745;
/**
 * Mark bit of replies of tracked connections. The bridge family has no conntrack on this kernel (no
 * nf_conntrack_bridge); br_netfilter tracks bridged IP in the IP hooks, where a chain of the companion inet
 * table sets this bit for the bridge's forward chain (which runs after it) to read.
 */
const REPLY_MARK = 0x10000;
/**
 * Mark bits 17-29 of a bridged frame: the bridge port it came in on (bits 0-12 of the port's ifindex; the
 * compare is done bit by bit, as nft compares a register with constants only). Conntrack keeps those of a
 * connection's first frame in the same bits of the ct mark (other ct mark bits are left as they are), and a
 * reply counts as one only when it leaves by that port: a packet spoofed in a client's name from another port no
 * longer makes the server's next packet a "reply" (review 12b, B0). Ports whose ifindexes agree in bits 0-12 are
 * not told apart. A reply that leaves by another port (the bridge flooding it, a MAC that moved) loses the port
 * bits as well as REPLY_MARK, so the forward chain drops it without a log line where a zone enforces.
 */
const PORT_SHIFT = 17;
const PORT_BITS = 13;
const PORT_MASK = 0x3ffe0000;
/** Mark bit of bridged packets conntrack relates to a tracked connection (ICMP errors), for the bridge chain. */
const RELATED_MARK = 0x40000000; // not bit 31: nft lists a top-bit test as a prefix
/**
 * Ct mark bit of a TCP connection conntrack picked up mid-stream (its first packet had no SYN): running before
 * conntrack was on (the first apply, a zone simulating), or after a flush. Its "original" direction is whichever
 * side spoke first then, often the server (IEC 104 spontaneous data, DNP3 unsolicited): such a packet that enters by
 * the connection's first port counts as a reply, unless it is a SYN (review 13, M1). TCP only: a server-side host
 * cannot open a TCP connection without a SYN, while one UDP packet would do (review 12b, B0).
 */
const CT_PICKUP = 0x10000;
const MARK = { meta: { key: 'mark' } };
const IFINDEX_ALL = 0x7fffffff;
/** Comment of the router's refusal of packets from a source with no route back through the interface. */
export const SPOOFED = 'spoofed source (no route back to it through the interface it came in on)';
/** The same check, loose (the store's rule loose_reverse_path: weir policy rules): only sources with no route back at all. */
export const SPOOFED_LOOSE =
  'spoofed source (no route back to it; loose check, asymmetric routing allowed)';
/** Comment (after "enforce: "/"simulate: ") of the bridge's quiet rule for replies copied to other ports. */
export const ELSEWHERE =
  "replies by another port than their connection's (flooded copies; not logged)";
/** Comments of the rules that refuse what the ruleset cannot judge; status lists them by this prefix. */
export const REFUSED = 'refused: ';
export const WOULD_REFUSE = 'would refuse: ';
const TAGGED = 'frames still VLAN-tagged after the kernel strips one tag (stacked 802.1Q/802.1ad)';
const SPOOFED_GATEWAY = "the gateway's address from a bridge port (spoofed)";
const IPV6 = 'IPv6 (the policy names no IPv6 address; neighbour discovery passes)';
/** ICMPv6 that IPv6 needs on a link (neighbour discovery, router discovery, multicast listeners). */
const ICMPV6_LINK = [
  // In type order, as nft lists them back (types 130-137, 143).
  'mld-listener-query',
  'mld-listener-report',
  'mld-listener-done',
  'nd-router-solicit',
  'nd-router-advert',
  'nd-neighbor-solicit',
  'nd-neighbor-advert',
  'nd-redirect',
  'mld2-listener-report',
];

/** Families of Weir's tables: the filter table, the steering NAT table and, on a bridge, the conntrack table. */
export function tableFamilies(fam: NftFamily): string[] {
  return fam === 'bridge' ? ['bridge', 'ip', 'inet'] : ['inet', 'ip'];
}

/** Inline gateway: PDUs of these servers are steered to it while its heartbeat keeps their leases alive. */
export interface SteerPlan {
  /** Address the gateway listens on (the DNAT target). */
  gatewayIp: string;
  /** Servers it guards (listed in `gw_steered` for status; the live leases come from the gateway itself). */
  targets: Array<{ server: string; port: number }>;
}

export interface CompileOptions {
  family: NftFamily;
  /** MAC of the bridge the gateway listens on (bridge family only): steered frames are addressed to it. */
  bridgeMac?: string;
  steer?: SteerPlan;
  /** Rate of "blocked"/"would block" log lines per second (the kernel drops the excess, not the verdicts). */
  logRate?: number;
  /** Seconds east of UTC of a time zone at an instant; windows are compiled to UTC for each offset ahead. */
  utcOffset?: OffsetOf;
  /** The instant the windows are compiled from (now). */
  at?: Date;
  /**
   * Sensor-only stealth (bridge family): the host sends nothing through the bridge ports — no ARP, no ICMP, no
   * RST, nothing a stray process on the host might emit — so the bridge cannot be found from the plant.
   */
  stealth?: boolean;
  /** Router family: a source passes the spoofing check with any route back (loose), not only through its interface. */
  looseReversePath?: boolean;
}

export interface CompiledRuleset {
  /** The libnftables JSON document to load with `nft -j -f`. */
  json: { nftables: unknown[] };
  warnings: string[];
  /** Zones per mode, for status output. */
  enforced: string[];
  simulated: string[];
  /** Compiled for sensor-only stealth. */
  stealth: boolean;
  /** What the ruleset refuses (or, with only simulating zones, would refuse) because it cannot judge it. */
  refused: string[];
  /**
   * The first UTC offset change of a window's time zone that the timed rules do not cover (ISO time), null when
   * none is due within years: re-apply before it.
   */
  windowsValidUntil: string | null;
  /** What it does not filter at layer 2 (bridge family; see nft-layer2.ts). */
  unfiltered: string[];
}

type Expr = Record<string, unknown>;
const payload = (protocol: string, field: string): Expr => ({ payload: { protocol, field } });
const match = (left: unknown, right: unknown, op = '=='): Expr => ({ match: { op, left, right } });
const FLOW = {
  concat: [
    payload('ip', 'saddr'),
    payload('ip', 'daddr'),
    { meta: { key: 'l4proto' } },
    payload('th', 'dport'),
  ],
};
const REVERSE = {
  concat: [
    payload('ip', 'daddr'),
    payload('ip', 'saddr'),
    { meta: { key: 'l4proto' } },
    payload('th', 'sport'),
  ],
};
/** The same flow keys over IPv6 (blocks and temporary permits hold IPv6 hosts too). */
const FLOW6 = {
  concat: [
    payload('ip6', 'saddr'),
    payload('ip6', 'daddr'),
    { meta: { key: 'l4proto' } },
    payload('th', 'dport'),
  ],
};
const REVERSE6 = {
  concat: [
    payload('ip6', 'daddr'),
    payload('ip6', 'saddr'),
    { meta: { key: 'l4proto' } },
    payload('th', 'sport'),
  ],
};
/** Bit i of the ifindex of meta `key`, written as nft lists it back (numbers, never interface names). */
const ifBit = (key: 'iif' | 'oif', i: number, set: boolean): Expr =>
  match({ '|': [{ meta: { key } }, IFINDEX_ALL - 2 ** i] }, IFINDEX_ALL, set ? '==' : '!=');
const portBit = (i: number): number => 2 ** (PORT_SHIFT + i);
const markHas = (bits: number, on = true): Expr => match({ '&': [MARK, bits] }, on ? bits : 0);
const markOr = (bits: number): Expr => ({ mangle: { key: MARK, value: { '|': [MARK, bits] } } });
const markClear = (bits: number): Expr => ({
  mangle: { key: MARK, value: { '&': [MARK, 0xffffffff - bits] } },
});
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * Compile the zones in simulate and enforce mode into one nftables table: allowlists as concatenated interval
 * sets (client . server . protocol . port; the other direction only for replies of tracked connections, so a
 * group's server cannot open its client from the group's port), time-windowed groups
 * as rules with meta day/hour in UTC, a blocklist and temporary permits with per-element timeouts, a drop with
 * a log line for enforce zones and a log line only ("would block") for simulate zones. Pure.
 */
export function compileRuleset(cp: CompiledPolicy, opts: CompileOptions): CompiledRuleset {
  const fam = opts.family;
  const warnings: string[] = [];
  const zones = cp.policy.zones;
  const active = zones.filter((z) => z.mode === 'enforce' || z.mode === 'simulate');
  const enforced = zones.filter((z) => z.mode === 'enforce');
  const simulated = zones.filter((z) => z.mode === 'simulate');
  const t = { family: fam, table: TABLE };
  if (opts.stealth) {
    if (fam !== 'bridge')
      throw new Error(
        'stealth needs the bridge family: a router is a hop by nature (it decrements TTL and answers traceroute)',
      );
    if (opts.steer?.targets.length)
      throw new Error(
        'stealth cannot steer to the gateway: it terminates TCP with an address and a MAC of its own; enforce those groups port-level or leave stealth',
      );
  }
  const cmds: unknown[] = [
    // Atomic replace: create (so delete cannot fail), delete, create again, all in one transaction.
    { add: { table: { family: fam, name: TABLE } } },
    { delete: { table: { family: fam, name: TABLE } } },
    { add: { table: { family: fam, name: TABLE } } },
  ];
  const refused: string[] = [];
  const counter = { counter: null };
  const established = match({ ct: { key: 'state' } }, ['established', 'related'], 'in');
  // A reply: a packet of a connection conntrack has seen answered (never the first packet of one).
  const reply: Expr[] =
    fam === 'bridge'
      ? [match({ '&': [{ meta: { key: 'mark' } }, REPLY_MARK] }, REPLY_MARK)]
      : [established];
  if (fam === 'bridge') cmds.push(...replyMarking());
  const set = (name: string, type: string | string[], flags: string[], elem?: unknown[]): void => {
    cmds.push({
      add: { set: { ...t, name, type, flags, ...(elem && elem.length ? { elem } : {}) } },
    });
  };
  const rule = (chain: string, expr: Expr[], comment?: string): void => {
    cmds.push({
      add: { rule: { ...t, chain, expr, ...(comment ? { comment: comment.slice(0, 128) } : {}) } },
    });
  };

  set('blocklist', 'ipv4_addr', ['timeout']);
  set('permits', ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], ['timeout']);
  set('blocklist6', 'ipv6_addr', ['timeout']);
  set('permits6', ['ipv6_addr', 'ipv6_addr', 'inet_proto', 'inet_service'], ['timeout']);
  // Permits scoped to a template's functions and registers: let through, but still steered to the gateway.
  set('permits_scoped', ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], ['timeout']);
  const v4 = (hs: Cidr[]): Cidr[] => hs.filter((c) => c.family === 'ipv4');
  for (const z of zones)
    if (cp.zoneBlocks(z).some((c) => c.family === 'ipv6'))
      warnings.push(
        `zone ${z.name}: IPv6 members are not enforced by the nftables backend, and as the policy names IPv6 it is not refused either: IPv6 passes unchecked`,
      );
  const zoneSet = (name: string, zs: Zone[]): void =>
    set(
      name,
      'ipv4_addr',
      ['interval'],
      mergeIntervals(zs.flatMap((z) => v4(cp.zoneBlocks(z)))).map(prefixElem),
    );
  zoneSet('zoned', zones);
  zoneSet('enforced', enforced);
  zoneSet('simulated', simulated);

  // Groups that can apply to traffic of an active zone; windows split them into their own sets.
  const always: FlowElem[] = [];
  const windowed = new Map<string, { w: TimeWindow; elems: FlowElem[] }>();
  for (const c of cp.groups) {
    if (!touchesActive(cp, c, active)) continue;
    const elems = groupElems(c, v4);
    if (c.windows.length === 0) {
      always.push(...elems);
      continue;
    }
    for (const { w } of c.windows) {
      const e = windowed.get(w.name) ?? { w, elems: [] };
      e.elems.push(...elems);
      windowed.set(w.name, e);
    }
  }
  const flowType = ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'];
  const allowSets: string[] = [];
  packFlows(always).forEach((elems, i) => {
    const name = i === 0 ? 'allow' : `allow_${i}`;
    set(name, flowType, ['interval'], elems.map(flowElem));
    allowSets.push(name);
  });
  if (allowSets.length === 0) {
    set('allow', flowType, ['interval']);
    allowSets.push('allow');
  }
  let wi = 0;
  const windowSets: Array<{ name: string; w: TimeWindow }> = [];
  for (const { w, elems } of windowed.values()) {
    for (const part of packFlows(elems)) {
      const name = `allow_w${wi++}`;
      set(name, flowType, ['interval'], part.map(flowElem));
      windowSets.push({ name, w });
    }
  }

  if (opts.steer?.targets.length) {
    const gw = opts.steer.gatewayIp;
    set(
      'gw_steered',
      ['ipv4_addr', 'inet_service'],
      [],
      opts.steer.targets.map((x) => ({ concat: [x.server, x.port] })),
    );
    const dest = { concat: [payload('ip', 'daddr'), payload('tcp', 'dport')] };
    if (fam === 'bridge') {
      if (!opts.bridgeMac) throw new Error('steering on a bridge needs the bridge MAC');
      // Renewed by the gateway's heartbeat: when it stops, the leases expire and frames stay on the bridge.
      set('gw_live', ['ipv4_addr', 'inet_service'], ['timeout']);
      cmds.push({
        add: {
          chain: {
            ...t,
            name: 'steer',
            type: 'filter',
            hook: 'prerouting',
            prio: -200,
            policy: 'accept',
          },
        },
      });
      // The gateway's own frames leave through the host (bridge output), never through a port: a frame from a
      // port carrying its address is spoofed, and would otherwise skip the gateway (review 12, L7).
      rule(
        'steer',
        [match(payload('ip', 'saddr'), gw), counter, { drop: null }],
        REFUSED + SPOOFED_GATEWAY,
      );
      refused.push(REFUSED + SPOOFED_GATEWAY);
      // A temporary permit overrides the groups, the gateway's checks included: such flows stay on the bridge.
      rule(
        'steer',
        [match(FLOW, '@permits'), { accept: null }],
        'permitted flows bypass the gateway',
      );
      rule(
        'steer',
        [
          match(dest, '@gw_live'),
          { mangle: { key: { meta: { key: 'mark' } }, value: STEER_MARK } },
          { mangle: { key: { meta: { key: 'pkttype' } }, value: 'host' } },
          { mangle: { key: payload('ether', 'daddr'), value: opts.bridgeMac } },
        ],
        'steer live gateway targets',
      );
    }
    // DNAT lives in the IP layer; the port comes from the gateway's own leases (server . port → its listener).
    cmds.push(
      { add: { table: { family: 'ip', name: TABLE } } },
      { delete: { table: { family: 'ip', name: TABLE } } },
      { add: { table: { family: 'ip', name: TABLE } } },
    );
    cmds.push({
      add: {
        map: {
          family: 'ip',
          table: TABLE,
          name: 'gw_port',
          type: ['ipv4_addr', 'inet_service'],
          map: 'inet_service',
          flags: ['timeout'],
        },
      },
    });
    cmds.push({
      add: {
        chain: {
          family: 'ip',
          table: TABLE,
          name: 'steer_nat',
          type: 'nat',
          hook: 'prerouting',
          prio: -100,
          policy: 'accept',
        },
      },
    });
    // With br_netfilter, bridged packets cross the IP hooks too: DNAT only what the steer chain marked.
    const marked = fam === 'bridge' ? [match({ meta: { key: 'mark' } }, STEER_MARK)] : [];
    cmds.push({
      add: {
        rule: {
          family: 'ip',
          table: TABLE,
          chain: 'steer_nat',
          expr: [
            ...marked,
            match({ meta: { key: 'l4proto' } }, 'tcp'),
            { dnat: { addr: gw, port: { map: { key: dest, data: '@gw_port' } } } },
          ],
        },
      },
    });
    // Connections that went direct while unsteered are reset once their server is leased (R9).
    cmds.push(...staleDirectRules(TABLE, gw, fam === 'bridge' ? STEER_MARK : null));
  }

  // Blocked sources are cut before anything else, steering to the gateway included.
  cmds.push({
    add: {
      chain: {
        ...t,
        name: 'guard',
        type: 'filter',
        hook: 'prerouting',
        prio: -300,
        policy: 'accept',
      },
    },
  });
  const limit = { limit: { rate: opts.logRate ?? 20, burst: 5, per: 'second' } };
  if (fam === 'bridge' && active.length > 0) {
    // One tag is stripped into metadata before these hooks; a frame still tagged hides its IP header from every
    // rule below, and Linux hosts strip an 802.1p outer tag and accept what is inside.
    const tagged = match({ meta: { key: 'protocol' } }, { set: ['8021q', '8021ad'] });
    if (enforced.length > 0) {
      rule('guard', [tagged, limit, { log: { prefix: 'weir-block ' } }], 'refused tagged: log');
      rule('guard', [tagged, counter, { drop: null }], REFUSED + TAGGED);
      refused.push(REFUSED + TAGGED);
    } else {
      rule(
        'guard',
        [tagged, limit, { log: { prefix: 'weir-would-block ' } }, counter],
        WOULD_REFUSE + TAGGED,
      );
      refused.push(WOULD_REFUSE + TAGGED);
    }
  }
  // Frames below IP to the members of active zones (R8): DCP Set/Reset, GOOSE/SV publishers, unknown ethertypes.
  const l2 =
    fam === 'bridge' ? layer2Rules(layer2Zones(cp), TABLE, limit, REFUSED, WOULD_REFUSE) : null;
  if (l2) {
    cmds.push(...l2.cmds);
    refused.push(...l2.refused);
  }
  rule(
    'guard',
    [match(payload('ip', 'saddr'), '@blocklist'), counter, { drop: null }],
    'blocked source',
  );
  rule(
    'guard',
    [match(payload('ip', 'daddr'), '@blocklist'), counter, { drop: null }],
    'blocked source (replies)',
  );
  rule(
    'guard',
    [match(payload('ip6', 'saddr'), '@blocklist6'), counter, { drop: null }],
    'blocked IPv6 source',
  );
  rule(
    'guard',
    [match(payload('ip6', 'daddr'), '@blocklist6'), counter, { drop: null }],
    'blocked IPv6 source (replies)',
  );
  if (opts.stealth) {
    // Frames the host itself sends through the bridge ports; forwarded plant frames never pass this hook.
    cmds.push({
      add: {
        chain: { ...t, name: 'stealth', type: 'filter', hook: 'output', prio: 0, policy: 'accept' },
      },
    });
    rule('stealth', [counter, { drop: null }], STEALTH_RULE);
  }
  cmds.push({
    add: {
      chain: {
        ...t,
        name: 'forward',
        type: 'filter',
        hook: 'forward',
        // On a bridge: after br_netfilter's forward hook (priority 0; equal priorities run newest first), in
        // whose IP hooks the replies chain marks replies.
        prio: fam === 'bridge' ? 1 : 0,
        policy: 'accept',
      },
    },
  });
  if (fam === 'bridge') cmds.push(...portTying(t));
  else {
    // Strict reverse path: a source this host would not route back through the interface the packet came in on
    // is spoofed (review 12b, B0: a packet in a PLC's name from the historian's side made the historian's next
    // packet a conntrack "reply" to any PLC port). Steered legs end or start on this host and never pass here.
    const loose = opts.looseReversePath === true;
    const what = loose ? SPOOFED_LOOSE : SPOOFED;
    const spoofed = match(
      { fib: { result: 'oif', flags: loose ? ['saddr'] : ['saddr', 'iif'] } },
      false,
    );
    const involves = (setName: string): Expr[][] => [
      [match(payload('ip', 'saddr'), `@${setName}`)],
      [match(payload('ip', 'daddr'), `@${setName}`)],
    ];
    for (const cond of involves('enforced')) {
      rule(
        'forward',
        [spoofed, ...cond, limit, { log: { prefix: 'weir-block ' } }],
        'spoofed: log',
      );
      rule('forward', [spoofed, ...cond, counter, { drop: null }], REFUSED + what);
    }
    for (const cond of involves('simulated'))
      rule(
        'forward',
        [spoofed, ...cond, limit, { log: { prefix: 'weir-would-block ' } }, counter],
        WOULD_REFUSE + what,
      );
    if (enforced.length > 0) refused.push(REFUSED + what);
    else if (simulated.length > 0) refused.push(WOULD_REFUSE + what);
  }
  rule('forward', [match(FLOW, '@permits'), { accept: null }], 'temporary permit');
  rule(
    'forward',
    [...reply, match(REVERSE, '@permits'), { accept: null }],
    'temporary permit (replies)',
  );
  rule('forward', [match(FLOW6, '@permits6'), counter, { accept: null }], 'temporary IPv6 permit');
  rule(
    'forward',
    [...reply, match(REVERSE6, '@permits6'), counter, { accept: null }],
    'temporary IPv6 permit (replies)',
  );
  rule('forward', [match(FLOW, '@permits_scoped'), { accept: null }], 'scoped permit');
  rule(
    'forward',
    [...reply, match(REVERSE, '@permits_scoped'), { accept: null }],
    'scoped permit (replies)',
  );
  for (const name of allowSets) {
    rule('forward', [match(FLOW, `@${name}`), { accept: null }], 'context groups');
    rule(
      'forward',
      [...reply, match(REVERSE, `@${name}`), { accept: null }],
      'context groups (replies)',
    );
  }
  let windowsValidUntil: number | null = null;
  for (const { name, w } of windowSets) {
    const schedule = windowSchedule(w, opts.utcOffset ?? utcOffsetOf, opts.at);
    if (schedule.validUntil !== null)
      windowsValidUntil = Math.min(windowsValidUntil ?? Infinity, schedule.validUntil);
    for (const { since, until, span } of schedule.periods.flatMap((p) =>
      p.spans.map((span) => ({ ...p, span })),
    )) {
      const when = [
        ...(since === null ? [] : [match({ meta: { key: 'time' } }, nftTime(since), '>=')]),
        ...(until === null ? [] : [match({ meta: { key: 'time' } }, nftTime(until), '<')]),
        match({ meta: { key: 'day' } }, DAYS[span.day]),
        match({ meta: { key: 'hour' } }, { range: [hhmmss(span.from), hhmmss(span.to)] }),
      ];
      rule('forward', [...when, match(FLOW, `@${name}`), { accept: null }], `window ${w.name}`);
      rule(
        'forward',
        [...when, ...reply, match(REVERSE, `@${name}`), { accept: null }],
        `window ${w.name} (replies)`,
      );
    }
  }
  // ICMP errors keep TCP working (path MTU, unreachable), but only about a connection conntrack tracks: not
  // from anyone to anyone (review 12, L1). Echo is not part of any context group.
  rule(
    'forward',
    [
      fam === 'bridge' ? markHas(RELATED_MARK) : match({ ct: { key: 'state' } }, 'related', 'in'),
      match(payload('icmp', 'type'), {
        set: ['destination-unreachable', 'time-exceeded', 'parameter-problem'],
      }),
      { accept: null },
    ],
    'ICMP errors of tracked connections',
  );
  for (const z of zones.filter(
    (x) => x.internal === 'allow' && (x.mode === 'enforce' || x.mode === 'simulate'),
  )) {
    const blocks = mergeIntervals(v4(cp.zoneBlocks(z))).map(prefixElem);
    // nft lists a one-element set as the element itself; compile it that way so diffs compare.
    const right = blocks.length === 1 ? blocks[0] : { set: blocks };
    if (blocks.length)
      rule(
        'forward',
        [
          match(payload('ip', 'saddr'), right),
          match(payload('ip', 'daddr'), right),
          { accept: null },
        ],
        `inside zone ${z.name}`,
      );
  }
  // The server's zone decides; a client's zone decides only for servers outside every zone (as in simulation).
  const toZone = (setName: string): Expr[][] => [
    [match(payload('ip', 'daddr'), `@${setName}`)],
    [match(payload('ip', 'saddr'), `@${setName}`), match(payload('ip', 'daddr'), '@zoned', '!=')],
  ];
  if (fam === 'bridge') {
    // A reply that leaves by another port than its connection's (reply_port took its marks): mostly the bridge
    // flooding a reply whose client MAC aged out of its table, a copy to every other port while the right one gets
    // its own. Counted apart and never logged (review 13, L4); simulate zones still drop nothing.
    const elsewhere = markHas(REPLY_MARK + PORT_MASK, false);
    if (simulated.length > 0)
      for (const cond of toZone('simulated'))
        rule('forward', [elsewhere, ...cond, counter, { accept: null }], `simulate: ${ELSEWHERE}`);
    if (enforced.length > 0)
      for (const cond of toZone('enforced'))
        rule('forward', [elsewhere, ...cond, counter, { drop: null }], `enforce: ${ELSEWHERE}`);
  }
  for (const cond of toZone('simulated'))
    rule(
      'forward',
      [...cond, limit, { log: { prefix: 'weir-would-block ' } }, counter],
      'simulate: log only',
    );
  for (const cond of toZone('enforced')) {
    rule('forward', [...cond, limit, { log: { prefix: 'weir-block ' } }], 'enforce: log');
    rule('forward', [...cond, counter, { drop: null }], 'enforce: drop');
  }
  // Zones are IPv4 and nothing here knows their hosts' IPv6 addresses (link-local ones always exist): unless
  // the policy names IPv6, IPv6 crossing the host is refused while a zone enforces (temporary IPv6 permits,
  // above, still pass), so an enforced PLC is not open over IPv6.
  if (active.length > 0 && !cp.namesIpv6()) {
    const ip6 = match({ meta: { key: 'protocol' } }, 'ip6');
    rule(
      'forward',
      [match(payload('icmpv6', 'type'), { set: ICMPV6_LINK }), { accept: null }],
      'IPv6 neighbour discovery',
    );
    if (enforced.length > 0) {
      rule('forward', [ip6, limit, { log: { prefix: 'weir-block ' } }], 'refused IPv6: log');
      rule('forward', [ip6, counter, { drop: null }], REFUSED + IPV6);
      refused.push(REFUSED + IPV6);
    } else {
      rule(
        'forward',
        [ip6, limit, { log: { prefix: 'weir-would-block ' } }, counter],
        WOULD_REFUSE + IPV6,
      );
      refused.push(WOULD_REFUSE + IPV6);
    }
  }
  return {
    json: { nftables: cmds },
    warnings,
    enforced: enforced.map((z) => z.name),
    simulated: simulated.map((z) => z.name),
    stealth: opts.stealth === true,
    refused,
    windowsValidUntil:
      windowsValidUntil === null ? null : new Date(windowsValidUntil).toISOString(),
    unfiltered: l2?.unfiltered ?? [],
  };
}

/**
 * The bridge's companion table: its chain sits in the IP forward hook that br_netfilter runs for bridged frames
 * and marks replies of tracked connections for the bridge's forward chain.
 */
function replyMarking(): unknown[] {
  const t = { family: 'inet', table: TABLE };
  const rule = (chain: string, expr: Expr[], comment?: string): unknown => ({
    add: { rule: { ...t, chain, expr, ...(comment ? { comment } : {}) } },
  });
  const ctMark = { ct: { key: 'mark' } };
  const state = (s: string): Expr => match({ ct: { key: 'state' } }, s, 'in');
  const ctHas = (bits: number, on = true): Expr => match({ '&': [ctMark, bits] }, on ? bits : 0);
  const ctOr = (bits: number): Expr => ({
    mangle: { key: ctMark, value: { '|': [ctMark, bits] } },
  });
  const noSyn = match(payload('tcp', 'flags'), 'syn', '!');
  const bits = Array.from({ length: PORT_BITS }, (_, i) => portBit(i));
  const copy = bits.map((b) => rule('reply', [ctHas(b), markOr(b)]));
  return [
    { add: { table: { family: 'inet', name: TABLE } } },
    { delete: { table: { family: 'inet', name: TABLE } } },
    { add: { table: { family: 'inet', name: TABLE } } },
    {
      add: {
        chain: {
          ...t,
          name: 'replies',
          type: 'filter',
          hook: 'forward',
          prio: 0,
          policy: 'accept',
        },
      },
    },
    { add: { chain: { ...t, name: 'reply' } } },
    { add: { chain: { ...t, name: 'first' } } },
    { add: { chain: { ...t, name: 'pickup' } } },
    rule(
      'replies',
      [state('new'), { jump: { target: 'first' } }],
      "a connection's first frame: the bridge port it came in on",
    ),
    // Only Weir's bits of the ct mark are written (review 13, L5), bit by bit as nft combines no two registers.
    rule('first', [
      { mangle: { key: ctMark, value: { '&': [ctMark, 0xffffffff - PORT_MASK - CT_PICKUP] } } },
    ]),
    ...bits.map((b) => rule('first', [markHas(b), ctOr(b)])),
    rule('first', [noSyn, ctOr(CT_PICKUP)], 'TCP picked up mid-stream (no SYN)'),
    rule('replies', [state('related'), markOr(RELATED_MARK)], 'related to a tracked connection'),
    rule(
      'replies',
      [
        match({ ct: { key: 'direction' } }, 'reply'),
        state('established'),
        { jump: { target: 'reply' } },
      ],
      'replies of tracked connections, for the bridge chains',
    ),
    rule(
      'replies',
      [
        match({ ct: { key: 'direction' } }, 'original'),
        state('established'),
        ctHas(CT_PICKUP),
        noSyn,
        { jump: { target: 'pickup' } },
      ],
      'TCP picked up mid-stream: a packet by its first port counts as a reply',
    ),
    // Entering by another port than the connection's first: not a reply. By that port: a reply, with no port to
    // leave by (it leaves by the other side's).
    ...bits.flatMap((b) => [
      rule('pickup', [markHas(b), ctHas(b, false), { return: null }]),
      rule('pickup', [markHas(b, false), ctHas(b), { return: null }]),
    ]),
    rule('pickup', [markClear(PORT_MASK), markOr(REPLY_MARK)]),
    // The meta mark carries the port this frame came in on; a reply carries its connection's first port instead.
    rule('reply', [markClear(PORT_MASK)]),
    ...copy,
    rule('reply', [markOr(REPLY_MARK)]),
  ];
}

/**
 * Bridge: the port each frame came in on, into the mark (before conntrack and the steering, which replaces the
 * mark of the frames it steers), and a reply's mark taken back unless it leaves by its connection's first port.
 */
function portTying(t: { family: NftFamily; table: string }): unknown[] {
  const rule = (chain: string, expr: Expr[], comment?: string): unknown => ({
    add: { rule: { ...t, chain, expr, ...(comment ? { comment } : {}) } },
  });
  const bits = Array.from({ length: PORT_BITS }, (_, i) => i);
  return [
    {
      add: {
        chain: {
          ...t,
          name: 'ports',
          type: 'filter',
          hook: 'prerouting',
          prio: -310,
          policy: 'accept',
        },
      },
    },
    rule(
      'ports',
      [markClear(PORT_MASK + RELATED_MARK + REPLY_MARK)],
      "Weir's mark bits start clear",
    ),
    ...bits.map((i) => rule('ports', [ifBit('iif', i, true), markOr(portBit(i))])),
    { add: { chain: { ...t, name: 'reply_port' } } },
    rule(
      'forward',
      [
        markHas(REPLY_MARK),
        match({ '&': [MARK, PORT_MASK] }, 0, '!='),
        { jump: { target: 'reply_port' } },
      ],
      'replies leave by the port their connection came in on',
    ),
    ...bits.flatMap((i) => [
      rule('reply_port', [
        ifBit('oif', i, true),
        markHas(portBit(i), false),
        markClear(REPLY_MARK + PORT_MASK),
        { return: null },
      ]),
      rule('reply_port', [
        ifBit('oif', i, false),
        markHas(portBit(i)),
        markClear(REPLY_MARK + PORT_MASK),
        { return: null },
      ]),
    ]),
  ];
}

/** A group matters for the ruleset when one of its ends is in an active zone. */
function touchesActive(cp: CompiledPolicy, c: CompiledGroup, active: Zone[]): boolean {
  const names = new Set(active.map((z) => z.name));
  const ends = [...c.clients.blocks, ...c.servers.blocks];
  return (
    ends.some((b) => {
      const z = cp.zoneOf(b.address);
      return z !== null && names.has(z.name);
    }) || ends.some((b) => b.prefix < 32)
  );
}

function groupElems(c: CompiledGroup, v4: (hs: Cidr[]) => Cidr[]): FlowElem[] {
  const out: FlowElem[] = [];
  for (const client of mergeIntervals(v4(c.clients.blocks)))
    for (const server of mergeIntervals(v4(c.servers.blocks)))
      for (const port of c.ports) {
        out.push({ client, server, transport: c.group.transport, port });
      }
  return out;
}

const flowElem = (e: FlowElem): unknown => ({
  concat: [prefixElem(e.client), prefixElem(e.server), e.transport, e.port],
});

function prefixElem(c: Cidr): unknown {
  return c.prefix === 32 ? c.address : { prefix: { addr: networkOf(c), len: c.prefix } };
}

/** nftables refuses overlapping elements in interval sets: drop blocks contained in others. */
function mergeIntervals(cs: Cidr[]): Cidr[] {
  const spans = cs.map((c) => ({ c, ...ipv4Span(c) })).sort((a, b) => a.lo - b.lo || b.hi - a.hi);
  const out: typeof spans = [];
  for (const s of spans) if (out.length === 0 || s.lo > out.at(-1)!.hi) out.push(s);
  return out.map((s) => s.c);
}

/** Time of day as nft lists it back ("21:00"; the end of a day is "23:59:59"). */
function hhmmss(m: number): string {
  return m >= 1440 ? '23:59:59' : hhmm(m);
}
