import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import type { Baseline } from '../discover/baseline.js';
import { EdgeTable, type EdgeAddress } from '../discover/edge-table.js';
import type { Inventory } from '../discover/inventory.js';
import { CompiledBaseline } from './profile.js';
import { Aggregator } from './aggregator.js';
import type { Detection, DetectionType, Finding } from './detection.js';
import type { DetectContext, Detector, EdgeRuntime } from './detector.js';
import { allDetectors } from './detectors/index.js';

/** A muted finding pattern: analysts silence known-benign noise without unlearning the baseline. */
export interface Mute {
  type?: DetectionType;
  src?: string;
  dst?: string;
  detail?: string;
  /** Epoch seconds after which the mute lapses. */
  until?: number;
}

export interface EngineOptions {
  /** Repeats of a finding within this many seconds fold into one detection. Default 600. */
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
}

/** Runs every detector over the traffic against one baseline. Synchronous hooks, like the inventory. */
export class DetectionEngine implements DetectContext {
  readonly baseline: CompiledBaseline;
  edge: EdgeRuntime | undefined;
  toServer = true;
  muted = 0;
  private readonly detectors: Detector[];
  // Each hook only on the detectors that have it: the per-packet loop stays short.
  private readonly packetHooks: Detector[];
  private readonly messageHooks: Detector[];
  private readonly agg: Aggregator;
  private readonly table: EdgeTable<EdgeRuntime>;
  private readonly mutes: Mute[];
  private nextTick = -Infinity;
  private readonly inventory: Inventory | undefined;
  private readonly sharedEdges: EdgeRuntime[] = [];
  private lastTs = 0;

  constructor(baseline: Baseline, private readonly opts: EngineOptions = {}) {
    this.baseline = new CompiledBaseline(baseline);
    this.detectors = opts.detectors ?? allDetectors();
    this.packetHooks = this.detectors.filter((d) => d.onPacket);
    this.messageHooks = this.detectors.filter((d) => d.onMessage);
    this.agg = new Aggregator(opts.windowSeconds ?? 600, opts.zoneOf);
    this.mutes = opts.mutes ?? [];
    this.table = new EdgeTable<EdgeRuntime>((addr) => this.runtime(addr));
    this.inventory = opts.inventory;
  }

  onPacket(pkt: Packet): void {
    const ts = pkt.ts;
    if (ts > this.lastTs) this.lastTs = ts;
    if (ts >= this.nextTick) {
      if (this.nextTick !== -Infinity) for (const d of this.detectors) d.tick?.(ts, this, false);
      this.nextTick = ts + 1;
    }
    const shared = this.inventory?.currentEdge();
    if (shared !== undefined) {
      let rt = shared.slot as EdgeRuntime | undefined;
      if (rt === undefined) { rt = this.runtime(shared.addr); this.inventory!.setCurrentSlot(rt); this.sharedEdges.push(rt); }
      this.edge = rt;
      this.toServer = shared.toServer;
      markAnswered(rt, pkt, this.toServer);
    } else if (this.inventory === undefined && pkt.ipVersion !== 0 && !pkt.fragment) {
      this.edge = this.table.lookup(pkt);
      this.toServer = this.table.toServer;
      markAnswered(this.edge, pkt, this.toServer);
    } else {
      this.edge = undefined;
    }
    const hooks = this.packetHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onPacket!(pkt, this);
  }

  onMessage(m: Message): void {
    const hooks = this.messageHooks;
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onMessage!(m, this);
  }

  edges(): Iterable<EdgeRuntime> {
    return this.inventory !== undefined ? this.sharedEdges : this.table.values();
  }

  private runtime(addr: EdgeAddress): EdgeRuntime {
    return {
      addr, profile: this.baseline.edges.get(addr.id) ?? null, answered: false, newEdgeReported: false,
      lastRequest: 0, bucketStart: 0, bucketRequests: 0, pollingStoppedReported: false, watched: false,
    };
  }

  report(f: Finding): void {
    for (const mu of this.mutes) {
      if ((mu.type === undefined || mu.type === f.type) && (mu.src === undefined || mu.src === f.src)
        && (mu.dst === undefined || mu.dst === f.dst) && (mu.detail === undefined || mu.detail === f.detail)
        && (mu.until === undefined || f.ts <= mu.until)) { this.muted++; return; }
    }
    const opened = this.agg.add(f);
    if (opened !== null) this.opts.onDetection?.(opened);
  }

  /** Run end-of-input sweeps and return every detection. */
  finish(): Detection[] {
    for (const d of this.detectors) d.tick?.(this.lastTs, this, true);
    return this.agg.all();
  }
}

/** A server answers with SYN+ACK or data (any UDP reply counts); a RST from a closed port is no conversation. */
function markAnswered(rt: EdgeRuntime, pkt: Packet, toServer: boolean): void {
  if (!toServer && (pkt.ipProto !== 6 || pkt.payloadLength > 0 || (pkt.tcpFlags & 0x12) === 0x12)) rt.answered = true;
}
