import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import { functionCategory, functionLabel, subFunctionKey } from '../dissect/registry.js';
import { EdgeTable, type EdgeAddress } from '../discover/edge-table.js';
import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import { PollTimer } from '../discover/polling.js';
import {
  flowVerdict,
  messageVerdict,
  type BlockReason,
  type CompiledPolicy,
  type FlowRules,
} from './evaluate.js';
import type { ZoneMode } from './model.js';
import { LocalClock } from './windows.js';
import { isProbe, scanCounts, scansOf } from '../discover/counts.js';
import type { FunctionCategory } from '../dissect/protocol.js';
import { Layer2Judge, layer2Zones, type Layer2Kind } from './layer2.js';

const SAMPLE_FRAMES = 5;

/** Request kinds by consequence for the process, least first. */
const WEIGHT: Record<FunctionCategory, number> = {
  read: 0,
  identity: 0,
  session: 0,
  diagnostic: 1,
  unknown: 2,
  write: 3,
  config: 4,
  control: 5,
  program: 6,
};
const heavier = (a: FunctionCategory | null, b: FunctionCategory): FunctionCategory =>
  a === null || WEIGHT[b] > WEIGHT[a] ? b : a;

/** Traffic of one flow that the policy would refuse, for one reason (and one function, for refused requests). */
export interface BlockedFlow {
  zone: string;
  mode: ZoneMode;
  client: string;
  server: string;
  clientName: string;
  serverName: string;
  transport: string;
  port: number;
  protocol: string;
  reason: BlockReason;
  /** Function of refused requests (null when the whole flow is refused). */
  func: number | null;
  funcName: string | null;
  write: boolean;
  /**
   * What the refused request does to the device (engineering operations are 'program', 'control', 'config'); for a
   * flow refused whole, the most consequential request it carried (null: none).
   */
  category: FunctionCategory | null;
  /** A refused connection attempt that carried nothing (see discover/counts): scans fold these into one row. */
  probe: boolean;
  /** Packets of the flow that would be dropped (flow refusals) and requests refused. */
  packets: number;
  requests: number;
  firstTs: number;
  lastTs: number;
  /** Refusals per local hour of day (policy time zone), 0..23. */
  hours: number[];
  /** Typical seconds between refused requests (polling), when steady; null for whole-flow refusals. */
  period: number | null;
  /** The baseline has this flow (and, for requests, this function): blocking it breaks learned normal traffic. */
  baseline: boolean;
  frames: number[];
}

export interface SimulationResult {
  packets: number;
  messages: number;
  firstTs: number;
  lastTs: number;
  blocked: BlockedFlow[];
  /** Packets and requests each context group let through, by group name (unused groups are drift). */
  groupUse: Record<string, number>;
  /** Addresses seen in any flow, and those outside every zone that talked to a zone. */
  hosts: string[];
  unzonedHosts: string[];
  /**
   * Flows by the zone deciding them: seen, refused (a flow is one edge: client, server, transport, server port;
   * it counts once however many of its requests are refused), of those learned as normal, and of those the probes
   * of scans (see discover/counts), which reports show as one row per scan.
   */
  zones: Record<string, ZoneCounts>;
  /** Frames below IP the policy's layer-2 rules would refuse (absent in simulations recorded before them). */
  layer2?: Layer2Refusal[];
}

/** Frames of one sender to one destination that a zone's layer-2 rule would refuse (see policy/layer2.ts). */
export interface Layer2Refusal {
  zone: string;
  mode: ZoneMode;
  kind: Layer2Kind;
  src: string;
  dst: string;
  /** EtherType after VLAN tags (802.3/LLC frames: the link decoder's code). */
  etherType: number;
  frames: number;
  firstTs: number;
  lastTs: number;
  samples: number[];
}

export interface ZoneCounts {
  mode: ZoneMode;
  flows: number;
  blockedFlows: number;
  baselineBlocked: number;
  /** Absent in simulations recorded before scans were counted. */
  scans?: number;
  scanProbes?: number;
  /**
   * Coverage of the baseline (absent without one, and in simulations recorded before it was counted): the
   * learned flows this zone decides, how many the replay saw, their learned requests (each flow at least 1) and
   * those of the flows seen, and the heaviest flows not seen. A replay that spans the window with a few packets
   * of one flow tells nothing about what enforcing cuts of the others.
   */
  baselineFlows?: number;
  baselineSeen?: number;
  baselineRequests?: number;
  baselineRequestsSeen?: number;
  unseen?: UnseenFlow[];
  /**
   * Learned flows the replay did not carry and could not be expected to: while learning they fell silent for
   * longer than the replay spans (monthly backups, vendor sessions). They are left out of the counts above; a
   * replay that does carry one counts it.
   */
  baselineOccasional?: number;
  /**
   * Of those, the ones the rules themselves would cut (no group allows the flow, or a function it used): judged
   * from the baseline alone, so leaving them out of the counts never lets a change through unseen (review 13, M6).
   */
  occasionalCut?: UnseenFlow[];
}

/** A learned flow of a zone the replay did not carry. */
export interface UnseenFlow {
  client: string;
  server: string;
  transport: string;
  port: number;
  requests: number;
}

/** Unseen flows kept per zone (heaviest first): enough to say what the replay misses. */
const UNSEEN_LISTED = 10;

interface FlowState {
  addr: EdgeAddress;
  rules: FlowRules;
  /** Protocol messages the flow carried (a flow with none may be a probe). */
  messages: number;
  /** For a flow refused whole: the most consequential kind of request it carried (a rogue writer is not a scan). */
  carried: FunctionCategory | null;
  /** Refusal of the whole flow, per key reason (kept while the verdict holds). */
  seen: boolean;
}

interface Acc {
  b: BlockedFlow;
  f: FlowState;
  poll: PollTimer;
}

/**
 * Replays traffic against a policy: every packet of a refused flow, every request a group would refuse,
 * counted per flow, reason and function. Pure: fed by the dissect pipeline's hooks.
 */
export class Simulator {
  private readonly edges: EdgeTable<FlowState>;
  private current: FlowState | undefined;
  private toServer = true;
  private readonly acc = new Map<string, Acc>();
  private readonly groupUse = new Map<string, number>();
  private readonly hosts = new Set<string>();
  private readonly unzoned = new Set<string>();
  private readonly clock: LocalClock;
  private readonly baselineFns: Map<string, Set<string>> | null;
  private readonly baseline: Baseline | null;
  private readonly l2: Layer2Judge;
  private readonly l2Refused = new Map<string, Layer2Refusal>();
  packets = 0;
  messages = 0;
  private firstTs = Infinity;
  private lastTs = -Infinity;

  constructor(
    private readonly policy: CompiledPolicy,
    baseline: Baseline | null = null,
  ) {
    this.edges = new EdgeTable<FlowState>((addr) => {
      const rules = policy.rules(addr.client, addr.server, addr.transport, addr.port);
      this.hosts.add(addr.client);
      this.hosts.add(addr.server);
      // A host outside every zone talking to a zone member: the documentation is missing a device.
      if (rules.zone !== null && rules.clientZone === null) this.unzoned.add(addr.client);
      if (rules.zone !== null && rules.serverZone === null) this.unzoned.add(addr.server);
      return { addr, rules, seen: false, messages: 0, carried: null };
    });
    this.clock = new LocalClock(policy.policy.timezone);
    this.l2 = new Layer2Judge(layer2Zones(policy));
    this.baseline = baseline;
    this.baselineFns = baseline
      ? new Map(Object.values(baseline.edges).map((e) => [e.id, new Set(e.functions)]))
      : null;
  }

  onPacket(pkt: Packet): void {
    this.packets++;
    const ts = pkt.ts;
    if (ts < this.firstTs) this.firstTs = ts;
    if (ts > this.lastTs) this.lastTs = ts;
    this.current = undefined;
    if (pkt.ipVersion === 0) {
      this.judgeLayer2(pkt);
      return;
    }
    if (pkt.fragment) return;
    const f = this.edges.lookup(pkt);
    this.current = f;
    this.toServer = this.edges.toServer;
    f.seen = true;
    const r = f.rules;
    if (r.open || r.zone === null) return;
    const v = flowVerdict(r, ts);
    if (v === null) return;
    if (typeof v !== 'string') {
      this.use(v.group.name);
      return;
    }
    this.block(f, v, null, pkt.frame, ts, false, 'packet');
  }

  onMessage(m: Message): void {
    this.messages++;
    const f = this.current;
    if (f === undefined || m.transport === 'l2') return;
    f.messages++;
    // Either way: where both ends use one port, the map may have the requester as the server.
    if (f.carried !== 'program' && m.role === 'request' && this.acc.has(`${f.addr.id}|no_rule`))
      f.carried = heavier(f.carried, functionCategory(m));
    if (!this.toServer) return;
    const r = f.rules;
    if (r.open || r.zone === null || r.groups.length === 0) return;
    const v = messageVerdict(r, m);
    // Groups that carry a request are in use; flow refusals are counted per packet.
    if (v === null || v === 'no_rule' || v === 'outside_window') return;
    if (typeof v !== 'string') {
      this.use(v.group.name);
      return;
    }
    this.block(f, v, m, m.frame, m.ts, m.write, 'request');
  }

  private judgeLayer2(pkt: Packet): void {
    const v = this.l2.judge(
      pkt.etherType,
      pkt.srcMac,
      pkt.dstMac,
      pkt.data,
      pkt.payloadOffset,
      pkt.payloadLength,
    );
    if (v === null) return;
    const key = `${v.zone}|${v.kind}|${pkt.srcMac}|${pkt.dstMac}|${pkt.etherType}`;
    let r = this.l2Refused.get(key);
    if (r === undefined) {
      r = {
        ...v,
        src: pkt.srcMac,
        dst: pkt.dstMac,
        etherType: pkt.etherType,
        frames: 0,
        firstTs: pkt.ts,
        lastTs: pkt.ts,
        samples: [],
      };
      this.l2Refused.set(key, r);
    }
    r.frames++;
    r.lastTs = pkt.ts;
    if (r.samples.length < SAMPLE_FRAMES) r.samples.push(pkt.frame);
  }

  private use(group: string): void {
    this.groupUse.set(group, (this.groupUse.get(group) ?? 0) + 1);
  }

  private block(
    f: FlowState,
    reason: BlockReason,
    m: Message | null,
    frame: number,
    ts: number,
    write: boolean,
    what: 'packet' | 'request',
  ): void {
    const a = f.addr,
      zone = f.rules.zone!;
    // A request with a sub-function a policy can name (a UMAS function) is reported under that name, as listed.
    const sub = m === null ? -1 : subFunctionKey(m);
    const fn = m === null ? null : sub >= 0 ? sub : m.func;
    const key = m === null ? `${a.id}|${reason}` : `${a.id}|${reason}|${m.protocol}:${fn}`;
    let x = this.acc.get(key);
    if (x === undefined) {
      const inBaseline =
        this.baselineFns !== null &&
        this.baselineFns.has(a.id) &&
        (m === null || this.baselineFns.get(a.id)!.has(`${m.protocol}:${m.func}`));
      x = {
        b: {
          zone: zone.name,
          mode: zone.mode,
          client: a.client,
          server: a.server,
          clientName: this.policy.nameOf(a.client),
          serverName: this.policy.nameOf(a.server),
          transport: a.transport,
          port: a.port,
          protocol: m?.protocol ?? '',
          reason,
          func: fn,
          funcName:
            m === null ? null : (functionLabel(m.protocol, fn!) ?? (m.funcName || String(m.func))),
          write,
          category: m === null ? null : functionCategory(m),
          probe: false,
          packets: 0,
          requests: 0,
          firstTs: ts,
          lastTs: ts,
          hours: new Array<number>(24).fill(0),
          period: null,
          baseline: inBaseline,
          frames: [],
        },
        poll: new PollTimer(),
        f,
      };
      this.acc.set(key, x);
    }
    const b = x.b;
    if (what === 'packet') b.packets++;
    else {
      b.requests++;
      x.poll.request(0, ts);
    }
    b.lastTs = ts;
    b.hours[Math.floor(this.clock.at(ts)[1] / 60)]!++;
    if (b.frames.length < SAMPLE_FRAMES) b.frames.push(frame);
  }

  /** How much of each zone's learned traffic the replay carried (see ZoneCounts). */
  private coverage(zones: SimulationResult['zones']): void {
    const seen = new Set<string>();
    for (const f of this.edges.values()) if (f.seen) seen.add(f.addr.id);
    const unseen = new Map<string, UnseenFlow[]>();
    for (const z of Object.values(zones))
      Object.assign(z, {
        baselineFlows: 0,
        baselineSeen: 0,
        baselineRequests: 0,
        baselineRequestsSeen: 0,
        baselineOccasional: 0,
      });
    const b = this.baseline!;
    const replay = Number.isFinite(this.firstTs) ? this.lastTs - this.firstTs : 0;
    for (const e of Object.values(b.edges)) {
      const r = this.policy.rules(e.client, e.server, e.transport, e.port);
      if (r.open || r.zone === null) continue;
      const z = zones[r.zone.name]!;
      // Its longest learned silence, the learning window's edges included: a replay shorter than that may miss it.
      const silence = Math.max(e.maxRequestGap, e.firstSeen - b.from, b.to - e.lastSeen);
      if (!seen.has(e.id) && silence >= replay && silence > 0) {
        z.baselineOccasional!++;
        if (rulesCut(r, e))
          (z.occasionalCut ??= []).push({
            client: e.client,
            server: e.server,
            transport: e.transport,
            port: e.port,
            requests: e.requests,
          });
        continue;
      }
      const weight = Math.max(e.requests, 1);
      z.baselineFlows!++;
      z.baselineRequests! += weight;
      if (seen.has(e.id)) {
        z.baselineSeen!++;
        z.baselineRequestsSeen! += weight;
      } else {
        const list = unseen.get(r.zone.name) ?? [];
        list.push({
          client: e.client,
          server: e.server,
          transport: e.transport,
          port: e.port,
          requests: e.requests,
        });
        unseen.set(r.zone.name, list);
      }
    }
    for (const [name, z] of Object.entries(zones))
      z.unseen = (unseen.get(name) ?? [])
        .sort(
          (a, b) =>
            b.requests - a.requests ||
            `${a.client}>${a.server}:${a.port}`.localeCompare(`${b.client}>${b.server}:${b.port}`),
        )
        .slice(0, UNSEEN_LISTED);
  }

  result(): SimulationResult {
    const blocked = [...this.acc.values()]
      .map(({ b, f, poll }) => {
        const p = poll.period();
        b.period = p !== null && p.iqr <= p.median ? p.median : null;
        b.probe =
          b.func === null &&
          b.reason === 'no_rule' &&
          isProbe(b.transport, b.packets, f.messages > 0);
        if (b.func === null && b.reason === 'no_rule') {
          b.category = f.carried;
          b.write ||= f.carried === 'write';
        }
        return b;
      })
      .sort(
        (a, b) =>
          Number(b.baseline) - Number(a.baseline) ||
          a.zone.localeCompare(b.zone) ||
          b.packets + b.requests - (a.packets + a.requests),
      );
    const zones: SimulationResult['zones'] = {};
    for (const z of this.policy.policy.zones)
      zones[z.name] = {
        mode: z.mode,
        flows: 0,
        blockedFlows: 0,
        baselineBlocked: 0,
        scans: 0,
        scanProbes: 0,
      };
    for (const f of this.edges.values())
      if (f.seen && f.rules.zone !== null && !f.rules.open) zones[f.rules.zone.name]!.flows++;
    // A refused flow counts once per zone, however many of its requests were refused, for whatever reasons.
    const blockedIds = new Map<string, boolean>();
    for (const { b, f } of this.acc.values()) {
      const k = `${b.zone}|${f.addr.id}`;
      blockedIds.set(k, (blockedIds.get(k) ?? false) || b.baseline);
    }
    for (const [k, base] of blockedIds) {
      const z = zones[k.split('|')[0]!]!;
      z.blockedFlows++;
      if (base) z.baselineBlocked++;
    }
    if (this.baseline !== null) this.coverage(zones);
    const scanOf = scansOf(blocked.filter((b) => b.probe));
    for (const z of new Set(blocked.map((b) => b.zone)))
      Object.assign(zones[z]!, scanCounts(new Map([...scanOf].filter(([b]) => b.zone === z))));
    return {
      packets: this.packets,
      messages: this.messages,
      firstTs: Number.isFinite(this.firstTs) ? this.firstTs : 0,
      lastTs: Number.isFinite(this.lastTs) ? this.lastTs : 0,
      blocked,
      hosts: [...this.hosts].sort(),
      unzonedHosts: [...this.unzoned].sort(),
      groupUse: Object.fromEntries(
        this.policy.groups.map((g) => [g.group.name, this.groupUse.get(g.group.name) ?? 0]),
      ),
      zones,
      layer2: [...this.l2Refused.values()].sort(
        (a, b) => a.zone.localeCompare(b.zone) || b.frames - a.frames,
      ),
    };
  }
}

/**
 * Whether the rules alone cut a learned flow: no group allows its client, server and port, or one of the
 * function codes it used is in no allowing group's list (windows, addresses and access are left to replays).
 */
function rulesCut(r: FlowRules, e: EdgeProfile): boolean {
  if (r.groups.length === 0) return true;
  if (r.groups.some((g) => g.functions === null)) return false;
  return e.functions.some((f) => {
    const at = f.lastIndexOf(':');
    const protocol = f.slice(0, at),
      code = Number(f.slice(at + 1));
    // Only against groups of that very protocol: another layer's codes (EtherNet/IP under CIP) are not judged here.
    const mine = r.groups.filter((g) => g.group.protocol === protocol);
    return Number.isInteger(code) && mine.length > 0 && !mine.some((g) => g.functions!.has(code));
  });
}
