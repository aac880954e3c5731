import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import { functionKeyNumber, isIndustrial } from '../dissect/registry.js';
import type { Baseline } from '../discover/baseline.js';
import { EdgeTable, type EdgeAddress } from '../discover/edge-table.js';
import type { Inventory } from '../discover/inventory.js';
import type { EdgeBook } from '../discover/edge-book.js';
import { CompiledBaseline } from './profile.js';
import { Aggregator } from './aggregator.js';
import { finding, type Detection, type DetectionType, type Finding } from './detection.js';
import type { DetectContext, Detector, EdgeRuntime, MessageInterest } from './detector.js';
import { allDetectors } from './detectors/index.js';
import { decoyContact, decoysOffBaseline } from './detectors/decoy-contact.js';
import { isEngineeringOperation, mayOperate, operationOf } from './detectors/engineering-ops.js';
import type { Op } from './operation.js';
import { isLinkHousekeeping } from './housekeeping.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';

/** A muted finding pattern: analysts silence known-benign noise without unlearning the baseline. */
export interface Mute {
  type?: DetectionType;
  src?: string;
  dst?: string;
  /** A detection's detail, or one point of a folded detection ('holding_register:300', as mutes made per point read). */
  detail?: string;
  /** Epoch seconds after which the mute lapses. */
  until?: number;
}

export interface EngineOptions {
  /** Detection settings (thresholds, the fold window); default: the settings defaults. */
  settings?: Settings['detect'];
  /** Repeats of a finding within this many seconds fold into one detection (default: settings.fold_window_s). */
  windowSeconds?: number;
  mutes?: Mute[];
  zoneOf?: (ip: string) => string | null;
  detectors?: Detector[];
  /** Called when a new detection opens (live mode prints/exports it at once). */
  onDetection?: (d: Detection) => void;
  /**
   * Share this inventory's per-packet edge lookup instead of keeping a table of our own. The inventory must
   * see each packet first (call its onPacket before the engine's).
   */
  inventory?: Inventory;
  /** Addresses of the policy's decoys (every pool address): any packet to one is a decoy_contact. */
  decoys?: ReadonlySet<string>;
  /**
   * Run the decoy_contact detector for the decoys (default true). A sharded run (src/detect/shard-worker.ts)
   * runs it on the main thread only, while every engine still drops what the decoys themselves send.
   */
  decoyContact?: boolean;
}

/** Bits of a message's kind; a detector is called when its need's bit is in the message's mask. */
const ALWAYS = 1,
  OPERATION = 2,
  NEW_FUNCTION = 4,
  WRITE = 8,
  REFUSAL = 16,
  NEW_PROTOCOL = 32,
  VALUED = 64;
const NEED: Record<MessageInterest, number> = {
  all: ALWAYS,
  requests: ALWAYS,
  operations: OPERATION,
  'new-functions': NEW_FUNCTION,
  writes: WRITE,
  refusals: REFUSAL,
  'new-protocols': NEW_PROTOCOL,
  arp: ALWAYS,
  anomalies: ALWAYS,
  placed: ALWAYS,
  'placed-learned': VALUED,
};
/** Interests served by the all-messages and by the requests pass, each pass in the detectors' order. */
const ALL_PASS: readonly MessageInterest[] = ['all', 'refusals'];
const REQUEST_PASS: readonly MessageInterest[] = [
  'requests',
  'operations',
  'new-functions',
  'writes',
  'new-protocols',
];
const PLACED_PASS: readonly MessageInterest[] = ['placed', 'placed-learned'];

/** The message detectors of one protocol, sorted once (see Detector.protocols). */
interface Route {
  protocol: string;
  all: Detector[];
  /** NEED bits of each detector of `all`. */
  allNeeds: number[];
  requests: Detector[];
  requestNeeds: number[];
  /**
   * The request detectors a plain request reaches (mask ALWAYS: no operation, known function, no write, known
   * protocol), in the detectors' order: the known poll, most requests, calls them from a site of its own.
   */
  plainRequests: Detector[];
  placed: Detector[];
  placedNeeds: number[];
  /** NEED bits of any placed detector: a placed message is dispatched only when its mask meets them. */
  placedAny: number;
  anomalies: Detector[];
  arp: Detector[];
  /** functionKeyNumber(protocol, func) is keyBase + func. */
  keyBase: number;
  /**
   * Per function code below 256: 0 not asked yet, 1 no request with it is an operation (operationOf is skipped),
   * 2 ask operationOf. A known poll of a protocol with few operations (BACnet) then skips it.
   */
  operates: Uint8Array;
  industrial: boolean;
}

/** Runs every detector over the traffic against one baseline. Synchronous hooks, like the inventory. */
export class DetectionEngine implements DetectContext {
  readonly baseline: CompiledBaseline;
  edge: EdgeRuntime | undefined;
  toServer = true;
  funcKey = 0;
  operation: Op | undefined = undefined;
  industrial = false;
  muted = 0;
  /** What the default detectors' own bounds forgot (io_timing's tables), counted like the inventory's. */
  readonly capped: Record<string, number> = {};
  private readonly detectors: Detector[];
  // Each hook only on the detectors that have it: the per-packet loop stays short.
  private readonly packetHooks: Detector[];
  /** Packet hooks that want packets to some destination ports only, indexed by port (null: none). */
  private readonly portHooks: (Detector[] | undefined)[] | null;
  /** No packet detector wants packets by destination port (portHooks is null). */
  private readonly quietPorts: boolean;
  private readonly tickHooks: Detector[];
  private readonly unprofiledHooks: Detector[];
  private readonly newSenderHooks: Detector[];
  private readonly onAll: Detector[];
  private readonly onRequests: Detector[];
  private readonly onArp: Detector[];
  private readonly onAnomalies: Detector[];
  private readonly onPlaced: Detector[];
  private readonly agg: Aggregator;
  private readonly decoys: Set<string>;
  private readonly routes = new Map<string, Route>();
  private lastRoute: Route | undefined;
  private readonly table: EdgeTable<EdgeRuntime>;
  private readonly mutes: Mute[];
  private nextTick = -Infinity;
  private readonly inventory: Inventory | undefined;
  /** The shared inventory's edge book, read directly on every packet (null: none, or an inventory without edges). */
  private readonly book: EdgeBook | null;
  private readonly sharedEdges: EdgeRuntime[] = [];
  private lastTs = 0;
  private finished = false;

  constructor(
    baseline: Baseline,
    private readonly opts: EngineOptions = {},
  ) {
    this.baseline = new CompiledBaseline(baseline);
    // Without decoys there is nothing to check against the baseline's thousands of addresses.
    this.decoys =
      opts.decoys !== undefined && opts.decoys.size > 0
        ? decoysOffBaseline(opts.decoys, baseline)
        : new Set();
    const settings = opts.settings ?? DEFAULT_SETTINGS.detect;
    this.detectors = [
      ...(opts.detectors ?? allDetectors(settings, { capped: this.capped })),
      ...(this.decoys.size > 0 && opts.decoyContact !== false ? [decoyContact(this.decoys)] : []),
    ];
    const everyPacket = this.detectors.filter((d) => d.onPacket && (d.packets ?? 'all') === 'all');
    this.packetHooks = everyPacket.filter((d) => d.dstPorts === undefined);
    const ported = everyPacket.filter((d) => d.dstPorts !== undefined);
    // An array by port: one indexed load per packet, no hashing.
    this.portHooks =
      ported.length > 0 ? new Array<Detector[] | undefined>(65536).fill(undefined) : null;
    for (const d of ported) for (const port of d.dstPorts!) (this.portHooks![port] ??= []).push(d);
    this.quietPorts = this.portHooks === null;
    this.tickHooks = this.detectors.filter((d) => d.tick !== undefined);
    this.unprofiledHooks = this.detectors.filter((d) => d.onPacket && d.packets === 'unprofiled');
    this.newSenderHooks = this.detectors.filter((d) => d.onPacket && d.packets === 'new-sender');
    const wants = (...i: readonly MessageInterest[]): Detector[] =>
      this.detectors.filter((d) => d.onMessage && i.includes(d.messages ?? 'all'));
    this.onAll = wants(...ALL_PASS);
    this.onRequests = wants(...REQUEST_PASS);
    this.onArp = wants('arp');
    this.onAnomalies = wants('anomalies');
    this.onPlaced = wants(...PLACED_PASS);
    this.agg = new Aggregator(opts.windowSeconds ?? settings.fold_window_s, opts.zoneOf);
    this.mutes = opts.mutes ?? [];
    this.table = new EdgeTable<EdgeRuntime>((addr) => this.runtime(addr));
    this.inventory = opts.inventory;
    this.book = opts.inventory?.edgeBook ?? null;
  }

  /**
   * The capture clock: once a second the detectors' ticks. A shard worker calls it for the frames other
   * workers own, so its ticks fall at the frames one engine's would.
   */
  clock(ts: number): void {
    if (ts > this.lastTs) this.lastTs = ts;
    // The ticks apart: this runs inlined in every packet's hook (see onPacket).
    if (ts >= this.nextTick) this.tick(ts);
  }

  private tick(ts: number): void {
    if (this.nextTick !== -Infinity) {
      const t = this.tickHooks;
      for (let i = 0; i < t.length; i++) t[i]!.tick!(ts, this, false);
    }
    this.nextTick = ts + 1;
  }

  /** A packet of an edge another shard keeps: its server end orients same-port peers here too. */
  noteServer(src4: number, dst4: number, proto: number, srcPort: number, dstPort: number): void {
    this.table.noteServer(src4, dst4, proto, srcPort, dstPort);
  }

  /** A server end (serverEndKey) the main thread worked out from a packet another shard keeps. */
  noteServerKey(k: number): void {
    this.table.noteServerKey(k);
  }

  /**
   * Most packets are on a settled edge (learned, answered, both ends heard): then no packet detector but the
   * every-packet and port ones can want them, and with none of those (or none for this port) only the current
   * edge is set. This hook is kept this small because V8 inlines it, with the inventory's packet hook, into the
   * pipeline's fan-out under one inlining budget: the whole hook (~4 times this size) left the inventory's own
   * callees (its source asset, the edge book's hook) out of it, which cost discover's code more than the hook
   * itself (bench/RESULTS.md, detection, engpath round). Everything else is in packetSlow, called rarely.
   */
  onPacket(pkt: Packet): void {
    this.clock(pkt.ts);
    const s = this.book !== null ? this.book.currentState() : undefined;
    if (s !== undefined && pkt.ipProto !== 58) {
      const rt = s.slot as EdgeRuntime | undefined;
      if (
        rt !== undefined &&
        rt.settled &&
        (this.quietPorts || this.portHooks![pkt.dstPort] === undefined)
      ) {
        this.edge = rt;
        this.toServer = this.book!.currentToServer();
        return;
      }
    }
    this.packetSlow(pkt);
  }

  /** onPacket's every step, for packets off a settled edge or with packet detectors to call. */
  private packetSlow(pkt: Packet): void {
    if (pkt.ipProto === 58 && isLinkHousekeeping(pkt)) {
      this.housekeeping(pkt);
      return;
    }
    // The inventory's edge for this packet, read off its edge book directly (not through a CurrentEdge filled
    // per packet: that cost ~0.035 CPU s a million packets, bench/RESULTS.md, detection, session 8).
    const shared = this.book?.currentState();
    if (shared !== undefined) {
      let rt = shared.slot as EdgeRuntime | undefined;
      if (rt === undefined) {
        rt = this.runtime(shared);
        shared.slot = rt;
        this.sharedEdges.push(rt);
      }
      this.edge = rt;
      this.toServer = this.book!.currentToServer();
      if (!rt.answered) markAnswered(rt, pkt, this.toServer);
    } else if (this.inventory === undefined && pkt.ipVersion !== 0 && !pkt.fragment) {
      this.edge = this.table.lookup(pkt);
      this.toServer = this.table.toServer;
      if (!this.edge.answered) markAnswered(this.edge, pkt, this.toServer);
    } else {
      this.edge = undefined;
    }
    this.packetTo(this.packetHooks, pkt);
    if (this.portHooks !== null) {
      const h = this.portHooks[pkt.dstPort];
      if (h !== undefined) this.packetTo(h, pkt);
    }
    const e = this.edge;
    if (e === undefined || e.profile === null) this.packetTo(this.unprofiledHooks, pkt);
    if (e === undefined) {
      if (pkt.ipVersion !== 0) this.packetTo(this.newSenderHooks, pkt);
    } else {
      if (this.toServer ? !e.clientSent : !e.serverSent) {
        if (this.toServer) e.clientSent = true;
        else e.serverSent = true;
        this.packetTo(this.newSenderHooks, pkt);
      }
      // Each of these only ever turns true (and the profile is fixed): once all hold, the unprofiled, new-sender
      // and answered steps above do nothing for this edge's packets. Every-packet detectors keep it unsettled.
      if (
        e.answered &&
        e.clientSent &&
        e.serverSent &&
        e.profile !== null &&
        this.packetHooks.length === 0
      )
        e.settled = true;
    }
  }

  onMessage(m: Message): void {
    let r = this.lastRoute;
    if (r === undefined || r.protocol !== m.protocol) r = this.lastRoute = this.route(m.protocol);
    this.industrial = r.industrial;
    const response = m.role === 'response';
    if (r.all.length > 0)
      this.dispatchTo(
        r.all,
        r.allNeeds,
        response && m.exception > 0 ? ALWAYS | REFUSAL : ALWAYS,
        m,
      );
    if (!response && r.requests.length > 0) {
      const key = (this.funcKey = r.keyBase + m.func);
      const op = (this.operation =
        m.func >= 0 && m.func < 256 && this.operates(r, m.func) === 1
          ? undefined
          : operationOf(m, key));
      let mask = ALWAYS;
      if (op !== undefined) mask |= OPERATION;
      else {
        const e = this.edge;
        // The function a known poll repeats is remembered on the edge, like its protocol: no set lookup.
        if (e !== undefined && m.func >= 0 && r.industrial && e.knownFunc !== key) {
          if (e.profile !== null && e.profile.functions.has(key)) e.knownFunc = key;
          else mask |= NEW_FUNCTION;
        }
        if (m.write && m.targets !== null) mask |= WRITE;
      }
      // A protocol once found in the edge's profile is remembered on the edge: the set is asked once.
      const e = this.edge;
      if (e !== undefined && e.profile !== null && m.transport !== 'l2') {
        if (e.knownProtocol !== m.protocol) {
          if (e.profile.protocols.has(m.protocol)) e.knownProtocol = m.protocol;
          else mask |= NEW_PROTOCOL;
        }
      }
      if (mask === ALWAYS) this.plain(r.plainRequests, m);
      else this.dispatchTo(r.requests, r.requestNeeds, mask, m);
      this.operation = undefined;
    }
    if (m.values !== null || m.targets !== null) {
      // Most placed messages are on edges that learned no values, which no placed detector of most protocols
      // wants (value_out_of_range needs learned values): no call then.
      const p = this.edge?.profile;
      const mask = p !== undefined && p !== null && p.hasValues ? ALWAYS | VALUED : ALWAYS;
      if ((r.placedAny & mask) !== 0) this.dispatchTo(r.placed, r.placedNeeds, mask, m);
    }
    if (m.anomaly !== null && r.anomalies.length > 0) this.dispatch(r.anomalies, m);
    if (r.arp.length > 0) this.dispatch(r.arp, m);
  }

  private operates(r: Route, func: number): number {
    const o = r.operates[func]!;
    return o !== 0 ? o : (r.operates[func] = mayOperate(r.protocol, func) ? 2 : 1);
  }

  /** The detectors that want this protocol's messages, sorted on its first message. */
  private route(protocol: string): Route {
    // Called whenever the protocol changes between messages: the sorting (and the closure over `protocol`,
    // whose context V8 allocates on every call of the function holding it) lives in newRoute.
    return this.routes.get(protocol) ?? this.newRoute(protocol);
  }

  private newRoute(protocol: string): Route {
    const wanted = (d: Detector): boolean =>
      d.protocols === undefined || d.protocols.includes(protocol);
    const all = this.onAll.filter(wanted);
    const requests = this.onRequests.filter(wanted);
    const placed = this.onPlaced.filter(wanted);
    const requestNeeds = requests.map((d) => NEED[d.messages ?? 'all']);
    const placedNeeds = placed.map((d) => NEED[d.messages ?? 'all']);
    const r: Route = {
      protocol,
      all,
      allNeeds: all.map((d) => NEED[d.messages ?? 'all']),
      requests,
      requestNeeds,
      plainRequests: requests.filter((_, i) => (requestNeeds[i]! & ALWAYS) !== 0),
      placed,
      placedNeeds,
      placedAny: placedNeeds.reduce((a, n) => a | n, 0),
      anomalies: this.onAnomalies.filter(wanted),
      arp: protocol === 'arp' ? this.onArp.filter(wanted) : [],
      keyBase: functionKeyNumber(protocol, 0),
      operates: new Uint8Array(256),
      industrial: isIndustrial(protocol),
    };
    this.routes.set(protocol, r);
    return r;
  }

  /**
   * IPv6 link housekeeping is no conversation: no edge, no scan. Only its sender matters, when the baseline
   * does not know that device (a DAD probe from :: names nobody yet).
   */
  private housekeeping(pkt: Packet): void {
    this.edge = undefined;
    if (pkt.srcIp !== '::') this.packetTo(this.newSenderHooks, pkt);
  }

  private packetTo(hooks: Detector[], pkt: Packet): void {
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onPacket!(pkt, this);
  }

  private dispatch(hooks: Detector[], m: Message): void {
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onMessage!(m, this);
  }

  /** dispatch for plain requests: a call site of its own, which sees few detectors (the timing one). */
  private plain(hooks: Detector[], m: Message): void {
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onMessage!(m, this);
  }

  /** Only the detectors whose need is among the message's kinds (mask of NEED bits). */
  private dispatchTo(hooks: Detector[], needs: number[], mask: number, m: Message): void {
    for (let i = 0; i < hooks.length; i++)
      if ((needs[i]! & mask) !== 0) hooks[i]!.onMessage!(m, this);
  }

  edges(): Iterable<EdgeRuntime> {
    return this.inventory !== undefined ? this.sharedEdges : this.table.values();
  }

  private runtime(addr: EdgeAddress): EdgeRuntime {
    return {
      addr,
      profile: this.baseline.profileOf(addr),
      answered: false,
      newEdgeReported: false,
      lastRequest: 0,
      bucketStart: 0,
      bucketRequests: 0,
      pollingStoppedReported: false,
      watched: false,
      pollKind: 0,
      floodLimit: 0,
      pollSilence: 0,
      clientSent: false,
      serverSent: false,
      settled: false,
      knownProtocol: '',
      knownFunc: -1,
      // Present from the start (not added later by one detector): every runtime keeps one object layout, so the
      // engine's and detectors' reads of it stay monomorphic.
      pending: undefined,
      sweepUntil: undefined,
    };
  }

  fold(
    type: Finding['type'],
    src: string,
    dst: string,
    detail: string,
    severity: Finding['severity'],
    ts: number,
    frame: number,
    point?: Finding['point'],
    pointValue?: number,
  ): boolean {
    // Mutes look at the whole finding: with any in force, every finding takes the full path.
    if (this.mutes.length > 0) return false;
    return this.agg.fold(type, src, dst, detail, severity, ts, frame, point, pointValue);
  }

  report(f: Finding): void {
    // A decoy's own answers are not the plant's (a "new asset" that is the decoy replying): the touch that made
    // them is already its decoy_contact.
    if (this.decoys.has(f.src) && f.type !== 'decoy_contact') return;
    for (const mu of this.mutes) {
      if (
        (mu.type === undefined || mu.type === f.type) &&
        (mu.src === undefined || mu.src === f.src) &&
        (mu.dst === undefined || mu.dst === f.dst) &&
        (mu.detail === undefined || mu.detail === f.detail || mu.detail === f.point) &&
        (mu.until === undefined || f.ts <= mu.until)
      ) {
        this.muted++;
        // Program, firmware, mode, restart and configuration operations are never hidden: a mute (like a
        // maintenance window) only lowers them to low.
        if (!isEngineeringOperation(f.type)) return;
        f = finding({ ...f, severity: 'low', fields: { ...f.fields, muted: true } });
        break;
      }
    }
    const opened = this.agg.add(f);
    if (opened !== null) this.opts.onDetection?.(opened);
  }

  /**
   * Run end-of-input sweeps (once: the runner finishes every stage, and the caller may ask again for the
   * result) and return every detection.
   */
  finish(): Detection[] {
    if (!this.finished) for (const d of this.tickHooks) d.tick!(this.lastTs, this, true);
    this.finished = true;
    return this.agg.all();
  }
}

/** A server answers with SYN+ACK or data (any UDP reply counts); a RST from a closed port is no conversation. */
function markAnswered(rt: EdgeRuntime, pkt: Packet, toServer: boolean): void {
  if (!toServer && (pkt.ipProto !== 6 || pkt.payloadLength > 0 || (pkt.tcpFlags & 0x12) === 0x12))
    rt.answered = true;
}
