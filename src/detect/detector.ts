import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import type { EdgeAddress } from '../discover/edge-table.js';
import type { CompiledBaseline, CompiledProfile } from './profile.js';
import type { Finding } from './detection.js';
import type { PendingReads } from '../discover/values.js';

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
  /** Read requests awaiting responses, to place response values on addresses (created on demand). */
  pending?: PendingReads;
}

export interface DetectContext {
  readonly baseline: CompiledBaseline;
  /** Edge of the current packet (and of its messages); undefined for non-IP frames. */
  readonly edge: EdgeRuntime | undefined;
  /** Direction of the current packet on its edge. */
  readonly toServer: boolean;
  /** Every edge seen in this run, for sweeps. */
  edges(): Iterable<EdgeRuntime>;
  report(f: Finding): void;
}

/** One kind of detection. Pure logic over packets/messages and the baseline; no I/O. */
export interface Detector {
  readonly name: string;
  onPacket?(pkt: Packet, ctx: DetectContext): void;
  onMessage?(m: Message, ctx: DetectContext): void;
  /** Called about once a second of capture time, and once at the end with `final`. */
  tick?(ts: number, ctx: DetectContext, final: boolean): void;
}
