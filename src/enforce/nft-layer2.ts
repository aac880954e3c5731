import {
  DCP_FRAME_IDS,
  DCP_RESPONSE_TYPES,
  DCP_SET,
  ETHERTYPE,
  IEC61850_ETHERTYPES,
  KNOWN_ETHERTYPES,
  publishersOf,
  undeclaredPublishers,
  type Layer2Zone,
} from '../policy/layer2.js';

/**
 * The bridge's layer-2 chain (review 12, R8): frames below IP to the members of zones in simulate and enforce mode,
 * judged as policy/layer2.ts judges them in simulation. Enforce zones drop with a log line, simulate zones log
 * only ("would refuse"); observe and monitor zones are not in the kernel at all. Pure.
 */

/** Name of the chain; status reads its rules' comments as the layer-2 filtering in force. */
export const LAYER2_CHAIN = 'layer2';
/** Comment prefixes: status lists what passes unfiltered and what is only counted. */
export const NOT_FILTERED = 'not filtered: ';
export const COUNTED = 'counted: ';
/** Said by apply, and by status wherever the layer-2 chain is loaded. */
export const BLOCKED_UNFILTERED = `${NOT_FILTERED}layer 2 frames of blocked sources (the blocklist holds IP addresses; a blocked host's ARP, PROFINET, GOOSE pass as above)`;

type Expr = Record<string, unknown>;
const match = (left: unknown, right: unknown, op = '=='): Expr => ({ match: { op, left, right } });
const raw = (offset: number, len: number): Expr => ({ payload: { base: 'nh', offset, len } });
const proto = { meta: { key: 'protocol' } };
/** The I/G bit of a destination MAC: set for multicast and broadcast. */
const GROUP_BIT = '01:00:00:00:00:00';
const ether = (field: 'saddr' | 'daddr'): Expr => ({ payload: { protocol: 'ether', field } });
/** An ethertype as nft lists it back (its own names for a few, the number for the rest), so applies compare. */
const NFT_NAMES: Record<number, string> = {
  0x0800: 'ip',
  0x0806: 'arp',
  0x8100: '8021q',
  0x86dd: 'ip6',
  0x88a8: '8021ad',
};
const etherType = (n: number): string | number => NFT_NAMES[n] ?? n;

export interface Layer2Rules {
  cmds: unknown[];
  /** What the chain refuses (enforce) or would refuse (simulate), with the refused/would-refuse prefixes. */
  refused: string[];
  /** What the ruleset does not filter at layer 2, for apply's output. */
  unfiltered: string[];
}

/**
 * `zones`: every zone of the policy (publishers are judged bridge-wide, see publishersOf); `refusedPrefix` and
 * `wouldPrefix` are the ruleset's comment prefixes that status lists.
 */
export function layer2Rules(
  zones: Layer2Zone[],
  table: string,
  limit: Expr,
  refusedPrefix: string,
  wouldPrefix: string,
): Layer2Rules {
  const t = { family: 'bridge', table };
  const cmds: unknown[] = [];
  const refused: string[] = [];
  const unfiltered: string[] = [];
  const active = zones.filter((z) => z.mode === 'enforce' || z.mode === 'simulate');
  if (active.length === 0) return { cmds, refused, unfiltered };
  const set = (name: string, type: string, elem: unknown[]): void => {
    cmds.push({ add: { set: { ...t, name, type, ...(elem.length ? { elem } : {}) } } });
  };
  const rule = (expr: Expr[], comment: string): void => {
    cmds.push({
      add: { rule: { ...t, chain: LAYER2_CHAIN, expr, comment: comment.slice(0, 128) } },
    });
  };
  const counter = { counter: null };
  /** Drop with a log line while `enforce`, else log and count only. */
  const refuse = (cond: Expr[], enforce: boolean, what: string): void => {
    if (enforce) {
      rule([...cond, limit, { log: { prefix: 'weir-block ' } }], 'layer 2 refusal: log');
      rule([...cond, counter, { drop: null }], refusedPrefix + what);
      refused.push(refusedPrefix + what);
    } else {
      rule([...cond, limit, { log: { prefix: 'weir-would-block ' } }, counter], wouldPrefix + what);
      refused.push(wouldPrefix + what);
    }
  };
  cmds.push({
    add: {
      chain: {
        ...t,
        name: LAYER2_CHAIN,
        type: 'filter',
        hook: 'forward',
        // Before the IP chain (priority 1): the two never judge the same frame (IPv4/IPv6 pass here untouched).
        prio: -10,
        policy: 'accept',
      },
    },
  });
  set('l2_known', 'ether_type', KNOWN_ETHERTYPES.map(etherType));
  // The raw DCP fields come before `meta protocol`: nft cannot list a raw network-header match that follows a
  // protocol it has no description of (it aborts on an assertion), and status lists the ruleset.
  const dcpSet: Expr[] = [
    match(raw(0, 16), { range: DCP_FRAME_IDS }),
    match(raw(16, 8), DCP_SET),
    match(raw(24, 8), { set: DCP_RESPONSE_TYPES }, '!='),
    match(proto, ETHERTYPE.profinet),
  ];
  active.forEach((z, i) => {
    if (z.members.length === 0) {
      unfiltered.push(
        `${NOT_FILTERED}layer 2 to zone ${z.zone}: none of its assets has a mac (DCP Set/Reset, unknown ethertypes)`,
      );
      return;
    }
    const members = `l2_members_${i}`,
      eng = `l2_engineering_${i}`;
    set(members, 'ether_addr', z.members);
    set(eng, 'ether_addr', z.engineering);
    const to = match(ether('daddr'), `@${members}`);
    refuse(
      [to, match(ether('saddr'), `@${eng}`, '!='), ...dcpSet],
      z.dcpMode === 'enforce',
      `layer 2: PROFINET DCP Set/Reset to zone ${z.zone} from a MAC not named engineering`,
    );
    if (z.mode === 'enforce' && z.dcpMode !== 'enforce')
      unfiltered.push(
        `${NOT_FILTERED}layer 2 PROFINET DCP Set/Reset to zone ${z.zone}: logged only until its layer2.engineering names the engineering stations and IO controllers`,
      );
    if (z.unknownEthertypes === 'drop')
      refuse(
        [to, match(proto, '@l2_known', '!=')],
        z.mode === 'enforce',
        `layer 2: unknown ethertypes (802.3/LLC, S7 over ISO) to zone ${z.zone}`,
      );
  });
  // DCP Set is unicast by its standard; sent to a group address it would rename or reset every device that
  // takes it. Nothing legitimate does that: refused while a zone whose members are known by MAC enforces.
  const known = active.filter((z) => z.members.length > 0);
  if (known.length > 0)
    refuse(
      [match({ '&': [ether('daddr'), GROUP_BIT] }, GROUP_BIT), ...dcpSet],
      known.some((z) => z.dcpMode === 'enforce'),
      'layer 2: PROFINET DCP Set/Reset to a multicast or broadcast address',
    );
  const goose = match(proto, { set: IEC61850_ETHERTYPES });
  const named = active.filter((z) => z.publishers !== null);
  const pubs = publishersOf(zones);
  if (named.length > 0 && pubs !== null) {
    set('l2_publishers', 'ether_addr', pubs);
    const undeclared = undeclaredPublishers(zones);
    const enforcing = named.some((z) => z.mode === 'enforce');
    refuse(
      [goose, match(ether('saddr'), '@l2_publishers', '!=')],
      enforcing && undeclared.length === 0,
      'layer 2: GOOSE/SV from a MAC no zone names as a publisher',
    );
    if (enforcing && undeclared.length > 0)
      unfiltered.push(
        `${NOT_FILTERED}layer 2 GOOSE/SV from unnamed publishers: logged only while zones ${undeclared.join(', ')} name none (publishers: [] for a zone without)`,
      );
  } else {
    const what = 'layer 2 GOOSE/SV: no zone in simulate or enforce names its publishers';
    rule([goose, counter], NOT_FILTERED + what);
    unfiltered.push(NOT_FILTERED + what);
  }
  // What passes here, counted so status shows it: DCP Sets from engineering MACs or to MACs of no active zone,
  // and ethertypes Weir does not know.
  rule(
    [...dcpSet, counter],
    `${COUNTED}layer 2 PROFINET DCP Set/Reset passed (from engineering MACs, or to MACs of no active zone)`,
  );
  rule(
    [
      match(proto, '@l2_known', '!='),
      // A plant may carry a steady stream of these (LLC, vendor protocols): a trickle of lines, every frame counted.
      { limit: { rate: 1, burst: 5, per: 'second' } },
      { log: { prefix: 'weir-l2-unknown ' } },
      counter,
    ],
    `${COUNTED}layer 2 frames of ethertypes Weir does not know (passed unless a zone drops them)`,
  );
  unfiltered.push(BLOCKED_UNFILTERED);
  return { cmds, refused, unfiltered };
}
