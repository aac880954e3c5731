import type { Message, PduContext, ProtocolName } from './message.js';

/**
 * What a request does to the device. A read-only context group admits only read, identity, session and
 * diagnostic requests; everything else (and anything the protocol file does not know) changes the device
 * or cannot be judged.
 */
export type FunctionCategory =
  | 'read'
  | 'identity'
  | 'session'
  | 'diagnostic'
  | 'write'
  | 'control'
  | 'program'
  | 'config'
  | 'unknown';

/**
 * A protocol carried over a TCP byte stream. The reassembler asks `pduLength` where each PDU ends,
 * then hands whole PDUs to `dissect`. Both are pure: bytes in, values out.
 */
export interface StreamDissector {
  protocol: ProtocolName;
  /** Well-known server ports (used to pick the dissector and to tell requests from responses). */
  ports: readonly number[];
  /**
   * Length of the PDU that starts at `off` given `avail` bytes, 0 when more bytes are needed to tell,
   * or -1 when the bytes cannot be this protocol (the stream is then resynchronised or given up).
   */
  pduLength(b: Uint8Array, off: number, avail: number): number;
  /**
   * Dissect one whole PDU into `out`. `toServer` is true when the PDU travels client → server. `state` is a
   * per-direction object the dissector may use to join protocol-level fragments (e.g. DNP3 transport segments).
   */
  dissect(
    b: Uint8Array,
    off: number,
    len: number,
    ctx: PduContext,
    toServer: boolean,
    out: Message[],
    state?: Record<string, unknown>,
  ): void;
  /**
   * True when the whole PDU at `off` (as framed by `pduLength`) is a fragment of a larger protocol unit that
   * only means something once complete (a COTP DT without end-of-TSDU, a DNP3 link frame whose transport
   * segment is not FIN). The gateway holds such fragments and judges the unit when it is whole.
   */
  partial?(b: Uint8Array, off: number, len: number): boolean;
  /**
   * True when the PDU carries no operation at all, only connection or link upkeep (a COTP connection request,
   * a DNP3 link-layer frame without user data): it may pass the gateway though it yields no message.
   */
  linkControl?(b: Uint8Array, off: number, len: number): boolean;
  /** What a client request does to the device (read-only groups admit read, identity, session, diagnostic). */
  category?(m: Message): FunctionCategory;
  /**
   * Where the next PDU plausibly starts after bytes that are not one (`off` is the first byte after the bad
   * start), or -1 when none does before `end`. Protocols with a start marker (IEC 104 0x68, DNP3 0x0564) resume
   * there, as tshark does, instead of losing the rest of the segment.
   */
  resync?(b: Uint8Array, off: number, end: number): number;
}

/** A protocol carried in UDP datagrams or directly over Ethernet. */
export interface DatagramDissector {
  protocol: ProtocolName;
  ports: readonly number[];
  /**
   * True when units span datagrams (DNP3 transport segments): the pipeline then keeps a `state` object per
   * address pair and passes it to every datagram between them.
   */
  stateful?: boolean;
  dissect(
    b: Uint8Array,
    off: number,
    len: number,
    ctx: PduContext,
    toServer: boolean,
    out: Message[],
    state?: Record<string, unknown>,
  ): void;
}
