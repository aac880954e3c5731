import type { Message, PduContext, ProtocolName } from './message.js';

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
  dissect(b: Uint8Array, off: number, len: number, ctx: PduContext, toServer: boolean, out: Message[], state?: Record<string, unknown>): void;
}

/** A protocol carried in UDP datagrams or directly over Ethernet. */
export interface DatagramDissector {
  protocol: ProtocolName;
  ports: readonly number[];
  dissect(b: Uint8Array, off: number, len: number, ctx: PduContext, toServer: boolean, out: Message[]): void;
}
