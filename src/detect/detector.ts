import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import type { EdgeAddress } from '../discover/edge-table.js';
import type { CompiledBaseline, CompiledProfile } from './profile.js';
import type { Finding } from './detection.js';
import type { PendingReads } from '../discover/values.js';
import type { Op } from './operation.js';

/** Per-edge state the engine keeps while detecting; detectors read and update their own fields. */
export interface EdgeRuntime {
  addr: EdgeAddress;
  profile: CompiledProfile | null;
  /** The server side has answered (a TCP connection that got a reply, or any UDP reply). */
  answered: boolean;
  newEdgeReported: boolean;
  lastRequest: number;
  bucketStart: number;
  bucketRequests: number;
  pollingStoppedReported: boolean;
  /** On the polling watch list of the timing detector. */
  watched: boolean;
  /** Timing detector's verdict on the profile: 0 not yet judged, 1 steadily polled, 2 not polled. */
  pollKind: 0 | 1 | 2;
  /** Requests per second that make a flood on this edge (timing detector; 0 until first computed). */
  floodLimit: number;
  /** Seconds without a request after which a polled edge counts as stopped (timing detector). */
  pollSilence: number;
  /** A packet from this end of the edge was already seen (for 'new-sender' detectors). */
  clientSent: boolean;
  serverSent: boolean;
  /**
   * Engine: answered, both ends heard, learned, and no every-packet detector: a packet of this edge needs no
   * per-packet step but the port detectors (see DetectionEngine.onPacket).
   */
  settled: boolean;
  /** A protocol of the edge's profile this edge's requests last used (engine: asks the profile once). */
  knownProtocol: string;
  /** A function key of the edge's profile its requests last used (engine: asks the profile once per change). */
  knownFunc: number;
  /** Read requests awaiting responses, to place response values on addresses (created on demand). */
  pending?: PendingReads;
  /** Until when (capture time) a function sweep on this edge carries the new functions (function_sweep). */
  sweepUntil?: number;
}

export interface DetectContext {
  readonly baseline: CompiledBaseline;
  /** Edge of the current packet (and of its messages); undefined for non-IP frames. */
  readonly edge: EdgeRuntime | undefined;
  /** Direction of the current packet on its edge. */
  readonly toServer: boolean;
  /** functionKeyNumber(protocol, func) of the current request (set for 'requests' detectors only). */
  readonly funcKey: number;
  /**
   * The engineering operation the current request performs (operationOf), computed once per request by the
   * engine for every 'requests' detector (several need it; it allocates when the request is one).
   */
  readonly operation: Op | undefined;
  /** The current message's protocol is an industrial one (isIndustrial), looked up once per protocol. */
  readonly industrial: boolean;
  /** Every edge seen in this run, for sweeps. */
  edges(): Iterable<EdgeRuntime>;
  report(f: Finding): void;
  /**
   * Fold a repeat of an open detection from its folding fields alone, exactly as report() would fold the
   * whole finding; false when the finding must be built and reported (it opens a detection, or a mute applies).
   */
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
  ): boolean;
}

/**
 * Which messages a detector's onMessage needs to see. The engine sorts messages once and calls only the
 * detectors that want them: at a million messages the calls themselves are most of the cost.
 */
export type MessageInterest =
  | 'all'
  | 'requests'
  | 'operations'
  | 'new-functions'
  | 'writes'
  | 'refusals'
  | 'new-protocols'
  | 'arp'
  | 'anomalies'
  | 'placed'
  | 'placed-learned';

/** One kind of detection. Pure logic over packets/messages and the baseline; no I/O. */
export interface Detector {
  readonly name: string;
  /**
   * Default 'all'. 'requests': everything but responses; 'placed': messages with values or targets. Narrower
   * kinds of requests, so the common one (a known poll) reaches few detectors: 'operations' (engineering
   * operations, ctx.operation set), 'new-functions' (no operation, an industrial function the edge's profile
   * lacks or an edge without one), 'writes' (no operation, a write with targets), 'new-protocols' (on a
   * profiled edge, not layer 2, in a protocol its profile lacks). 'refusals': responses with an exception.
   * 'placed-learned': placed messages on an edge whose profile learned process values.
   */
  readonly messages?: MessageInterest;
  /** Only packets to these destination ports reach onPacket (with packets 'all'; default: every packet). */
  readonly dstPorts?: readonly number[];
  /**
   * Default 'all'. 'unprofiled': only packets off any baseline edge (no edge, or an edge the baseline lacks).
   * 'new-sender': the first packet from each end of each edge, and every IP packet without an edge.
   */
  readonly packets?: 'all' | 'unprofiled' | 'new-sender';
  /**
   * Only messages of these protocols reach onMessage (default: every protocol). The engine sorts detectors
   * by protocol once, so a detector for one protocol costs nothing on the others' messages.
   */
  readonly protocols?: readonly string[];
  onPacket?(pkt: Packet, ctx: DetectContext): void;
  onMessage?(m: Message, ctx: DetectContext): void;
  /** Called about once a second of capture time, and once at the end with `final`. */
  tick?(ts: number, ctx: DetectContext, final: boolean): void;
}
