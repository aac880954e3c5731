import type { StreamDissector } from './protocol.js';
import { newMessage, type Message, type PduContext } from './message.js';
import { foreignProtocol } from './foreign.js';

/** Pending bytes a direction may hold while waiting for the rest of a PDU; more means the stream is not what we think. */
const MAX_PENDING = 1 << 16;

/** Reassembly state of one direction of one TCP connection carrying an industrial protocol. */
export interface TcpHalfStream {
  dissector: StreamDissector;
  toServer: boolean;
  /** Next expected sequence number, or -1 before the first data segment. */
  nextSeq: number;
  /** Bytes of an incomplete PDU carried over from earlier segments. */
  pending: Uint8Array | null;
  pendingLen: number;
  /** Set after the bytes stopped looking like the protocol; cleared at the next segment boundary that parses. */
  lost: boolean;
  lastTs: number;
  /**
   * The protocol dissector's state for this direction (fragment reassembly above TCP), from its newState().
   * Replaced by a fresh one whenever stream bytes are lost or skipped, so fragments are never joined across a hole.
   */
  state: unknown;
}

export type AnomalyCounter = (what: string) => void;

export function newHalfStream(dissector: StreamDissector, toServer: boolean): TcpHalfStream {
  return {
    dissector,
    toServer,
    nextSeq: -1,
    pending: null,
    pendingLen: 0,
    lost: false,
    lastTs: 0,
    state: dissector.newState(),
  };
}

/**
 * Feed one TCP segment's payload to a half-stream: whole PDUs are dissected straight from the frame buffer,
 * a trailing partial PDU is copied aside until the next in-order segment completes it.
 * Retransmitted bytes are skipped; a gap (lost segment) drops the partial PDU and resynchronises.
 */
export function feedSegment(
  s: TcpHalfStream,
  seq: number,
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  out: Message[],
  anomaly: AnomalyCounter,
): void {
  if (len === 0) return;
  if (s.nextSeq !== -1) {
    const delta = (seq - s.nextSeq) | 0;
    if (delta < 0) {
      // Retransmission or overlap: keep only bytes we have not seen yet.
      if (-delta >= len) {
        anomaly('tcp_retransmission');
        return;
      }
      off -= delta;
      len += delta;
      seq = s.nextSeq;
      anomaly('tcp_overlap');
    } else if (delta > 0) {
      anomaly('tcp_gap');
      s.pending = null;
      s.pendingLen = 0;
      s.lost = false;
      s.state = s.dissector.newState();
    }
  }
  s.nextSeq = (seq + len) >>> 0;

  if (s.pendingLen > 0) {
    const need = s.pendingLen + len;
    if (need > MAX_PENDING) {
      anomaly('tcp_pending_overflow');
      s.pendingLen = 0;
      s.pending = null;
      s.state = s.dissector.newState();
      return;
    }
    if (s.pending!.length < need) {
      const grown = new Uint8Array(Math.max(need, s.pending!.length * 2));
      grown.set(s.pending!.subarray(0, s.pendingLen));
      s.pending = grown;
    }
    s.pending!.set(b.subarray(off, off + len), s.pendingLen);
    s.pendingLen = need;
    const used = parse(s, s.pending!, 0, need, ctx, out, anomaly);
    if (used >= need) {
      s.pendingLen = 0;
    } else if (used > 0) {
      s.pending!.copyWithin(0, used, need);
      s.pendingLen = need - used;
    }
    return;
  }
  const used = parse(s, b, off, len, ctx, out, anomaly);
  if (used < len) {
    const rest = len - used;
    if (!s.pending || s.pending.length < rest) s.pending = new Uint8Array(Math.max(rest, 512));
    s.pending.set(b.subarray(off + used, off + len));
    s.pendingLen = rest;
  }
}

/** Dissect the whole PDUs in b[off, off+len); returns how many bytes were consumed (the rest is an incomplete PDU). */
function parse(
  s: TcpHalfStream,
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  out: Message[],
  anomaly: AnomalyCounter,
): number {
  const d = s.dissector;
  let pos = off;
  const end = off + len;
  while (pos < end) {
    const n = d.pduLength(b, pos, end - pos);
    if (n === 0) break;
    if (n < 0) {
      const next = d.resync?.(b, pos + 1, end) ?? -1;
      if (next > pos) {
        // Garbage before a valid start: flag it where it is and carry on with the PDU after it, as tshark does.
        out.push(garbage(ctx, d.protocol, s.toServer, pos - off, next - pos));
        anomaly(`${d.protocol}_resync`);
        s.state = {};
        pos = next;
        continue;
      }
      // Not a PDU boundary: count it once and drop the rest of this segment; the next segment may start a PDU.
      if (!s.lost) {
        // Another protocol on the industrial port (TLS, HTTP, RPC, RDP…): a message says which, once per run.
        const foreign = foreignProtocol(b, pos, end);
        if (foreign !== null) out.push(mismatch(ctx, d.protocol, s.toServer, foreign));
        anomaly(`${d.protocol}_not_pdu`);
        s.state = s.dissector.newState();
      }
      s.lost = true;
      return len;
    }
    if (n > end - pos) {
      if (n > MAX_PENDING) {
        anomaly(`${d.protocol}_pdu_too_long`);
        s.lost = true;
        s.state = s.dissector.newState();
        return len;
      }
      break;
    }
    s.lost = false;
    try {
      d.dissect(b, pos, n, ctx, s.toServer, out, s.state);
    } catch {
      anomaly(`${d.protocol}_dissector_error`);
    }
    pos += n;
  }
  return pos - off;
}

/** A message for bytes skipped to resynchronise: a malformed PDU with where it was and how long. */
function garbage(
  ctx: PduContext,
  protocol: StreamDissector['protocol'],
  toServer: boolean,
  at: number,
  bytes: number,
): Message {
  const m = newMessage(ctx, protocol);
  m.role = toServer ? 'request' : 'response';
  m.anomaly = {
    kind: 'resync',
    detail: `${bytes} bytes that are not ${protocol} at offset ${at}, skipped to the next valid start`,
  };
  m.fields = { offset: at, skipped: bytes };
  return m;
}

/** A message for a payload that is another protocol than the port's: which one, so detection can say so. */
function mismatch(
  ctx: PduContext,
  protocol: StreamDissector['protocol'],
  toServer: boolean,
  foreign: string,
): Message {
  const m = newMessage(ctx, protocol);
  m.role = toServer ? 'request' : 'response';
  m.anomaly = { kind: 'foreign_protocol', detail: `payload is ${foreign}, not ${protocol}` };
  m.fields = { foreign_protocol: foreign };
  return m;
}
