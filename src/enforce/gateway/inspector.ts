import type { Message, PduContext } from '../../dissect/message.js';
import type { StreamDissector } from '../../dissect/protocol.js';
import { messageVerdict, type BlockReason, type FlowRules } from '../../policy/evaluate.js';
import { modbusException } from './deny.js';

/** What to do with a refused request: answer it (Modbus exception) or drop it (the client times out). */
export type DenyMode = 'exception' | 'drop';

export type Action =
  | { kind: 'forward'; bytes: Uint8Array }
  | { kind: 'reply'; bytes: Uint8Array; pdu: Uint8Array; reason: BlockReason; message: Message }
  | { kind: 'drop'; pdu: Uint8Array; reason: BlockReason; message: Message | null }
  /** The client sent what no real client sends (unframeable, unknown): the connection is closed, nothing more passes. */
  | { kind: 'close'; reason: string };

export interface InspectorEvent {
  /** denied: a request refused; refused: the connection closed on bad input; fail_open: our own fault let a PDU through; slow: judged beyond the budget. */
  kind: 'denied' | 'refused' | 'fail_open' | 'slow';
  reason: string;
  message?: Message;
  /** Inspection time of the PDU, microseconds. */
  micros: number;
}

export interface InspectorOptions {
  deny: DenyMode;
  /** Inspection of one PDU should take this long; beyond it the verdict still holds and a `slow` event is kept. */
  budgetMicros: number;
  /** A test hook that runs inside inspection (to prove that a fault fails open). */
  fault?: () => void;
  now?: () => number;
}

/**
 * Protocols whose connection cannot outlive a refused request. OPC UA numbers every chunk of a secure channel:
 * a dropped service leaves a gap the server treats as an attack (node-opcua closes the channel: "Invalid Sequence
 * Number"), and a ServiceFault in its place would need the server's own numbering. IEC 104 numbers every I-frame
 * (N(S)/N(R)): after a dropped command the station sees the next frame out of sequence (the standard says close)
 * and the client's t1 ends the link ~15 s later, untied to the refusal; a negative confirmation from the gateway
 * would need both directions renumbered for the rest of the connection. The gateway closes the connection at
 * once, so the client learns of the refusal now instead of after a timeout on a dead channel.
 */
const CLOSE_ON_REFUSAL: ReadonlySet<string> = new Set(['opcua', 'iec104']);

/** Buffered bytes without a whole PDU beyond this: no real client of these protocols sends it. */
const MAX_PENDING = 1 << 17;
/** A fragmented unit (COTP, DNP3 transport) larger than this, or in more pieces, is refused. */
const MAX_HELD_BYTES = 1 << 17;
const MAX_HELD_PIECES = 256;

/**
 * Checks the client → server byte stream of one connection PDU by PDU against the flow's context groups.
 * Pure apart from the clock: bytes in, actions out. A refused request is never forwarded, whatever the
 * inspection cost; input that cannot be framed or judged closes the connection. Only a fault of the inspection
 * itself (an exception) lets a PDU through unchecked (fail-open), and says so.
 */
export class StreamInspector {
  private pending: Uint8Array = new Uint8Array(0);
  private closed = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** Where in the current read the last judged unit ended (-1: none yet). */
  private judgedTo = -1;
  /** The dissector's per-direction state (fragments being joined), as the reassembler keeps it. */
  private readonly state: unknown;
  private frame = 0;
  readonly events: InspectorEvent[] = [];
  /** Inspection time spent so far (µs), for the throttle: a client is charged for what its PDUs cost to judge. */
  spentMicros = 0;
  /** The last push stopped at its time slice with bytes left unjudged: push again (no new bytes) to go on. */
  backlog = false;

  constructor(
    private readonly dissector: StreamDissector,
    public rules: FlowRules,
    private readonly ctx: PduContext,
    private readonly opts: InspectorOptions,
  ) {
    this.state = dissector.newState();
  }

  /**
   * Feed bytes from the client; returns what to send on, in order. After a `close` action nothing more passes.
   * Judging stops once `sliceMicros` of inspection are spent in this call (at least one PDU when above zero):
   * the rest waits, `backlog` says so, and a later push (of new bytes or none) goes on where this one stopped.
   */
  push(chunk: Uint8Array, sliceMicros = Infinity): Action[] {
    if (this.closed) return [];
    const out: Action[] = [];
    // Fragments held from earlier reads: not in `buf`, and unjudged until a unit of this read completes them.
    const carried = this.held.length ? this.held.slice() : null;
    let buf = chunk;
    this.judgedTo = -1;
    try {
      buf =
        chunk.length === 0
          ? this.pending
          : this.pending.length
            ? concat(this.pending, chunk)
            : chunk;
      return this.frameAll(buf, out, sliceMicros);
    } catch (err) {
      const rest = this.judgedTo < 0 ? [...(carried ?? []), buf] : [buf.subarray(this.judgedTo)];
      return this.framingFault(out, rest, err as Error);
    }
  }

  /**
   * Our own fault while framing (judging catches its own): what was already judged keeps its verdict, so a
   * refused request never goes with the rest. The bytes nobody could judge pass (fail-open, reported); with the
   * framing lost nothing after them could be judged, so the connection then ends (the client reconnects afresh).
   */
  private framingFault(out: Action[], rest: Uint8Array[], err: Error): Action[] {
    this.stop();
    this.events.push({ kind: 'fail_open', reason: `framing failed: ${err.message}`, micros: 0 });
    const bytes = concatAll(rest);
    if (bytes.length > 0) out.push({ kind: 'forward', bytes });
    out.push({ kind: 'close', reason: 'inspection fault: framing lost' });
    return out;
  }

  /** Frame and judge the PDUs of `buf`; `judgedTo` follows each judged unit's end (what a framing fault leaves). */
  private frameAll(buf: Uint8Array, out: Action[], sliceMicros: number): Action[] {
    const until = this.spentMicros + sliceMicros;
    this.backlog = false;
    let off = 0;
    while (off < buf.length) {
      if (this.spentMicros >= until) {
        // Out of time for now: unjudged bytes stay here, not forwarded (the caller stops reading meanwhile).
        this.backlog = true;
        this.pending = buf.subarray(off);
        return out;
      }
      const len = this.dissector.pduLength(buf, off, buf.length - off);
      if (len < 0) return this.refuse(out, `bytes that are not ${this.dissector.protocol}`);
      if (len === 0 || off + len > buf.length) break;
      const pdu = buf.slice(off, off + len);
      off += len;
      if (this.dissector.partial?.(pdu, 0, len)) {
        this.held.push(pdu);
        this.heldBytes += len;
        if (this.heldBytes > MAX_HELD_BYTES || this.held.length > MAX_HELD_PIECES)
          return this.refuse(
            out,
            `a fragmented ${this.dissector.protocol} unit beyond ${MAX_HELD_PIECES} pieces or ${MAX_HELD_BYTES} bytes`,
          );
        continue;
      }
      const unit = this.held.length ? [...this.held, pdu] : [pdu];
      this.held = [];
      this.heldBytes = 0;
      const a = this.judge(unit);
      out.push(a);
      this.judgedTo = off;
      if (a.kind === 'close') {
        this.closed = true;
        return out;
      }
    }
    this.pending = buf.slice(off);
    if (this.pending.length + this.heldBytes > MAX_PENDING)
      return this.refuse(
        out,
        `no ${this.dissector.protocol} PDU boundary within ${MAX_PENDING} bytes`,
      );
    return out;
  }

  private refuse(out: Action[], reason: string): Action[] {
    this.stop();
    this.events.push({ kind: 'refused', reason, micros: 0 });
    out.push({ kind: 'close', reason });
    return out;
  }

  /** Nothing more passes: what was buffered or held is dropped with the connection. */
  private stop(): void {
    this.closed = true;
    this.backlog = false;
    this.pending = new Uint8Array(0);
    this.held = [];
    this.heldBytes = 0;
  }

  /** Judge one unit (a PDU, or the fragments of one): every request in it must be allowed. */
  private judge(unit: Uint8Array[]): Action {
    const t0 = process.hrtime.bigint();
    const msgs: Message[] = [];
    let verdict: BlockReason | null = null;
    let culprit: Message | null = null;
    try {
      this.opts.fault?.();
      const ctx = this.ctx;
      ctx.ts = (this.opts.now ?? Date.now)() / 1000;
      for (const piece of unit) {
        ctx.frame = ++this.frame;
        this.dissector.dissect(piece, 0, piece.length, ctx, true, msgs, this.state);
      }
      for (const m of msgs) {
        const v = messageVerdict(this.rules, m);
        if (typeof v === 'string') {
          verdict = v;
          culprit = m;
          break;
        }
      }
    } catch (err) {
      // Our own fault: the unit goes through unchecked, and the window is reported.
      const us = micros(t0);
      this.spentMicros += us;
      this.events.push({
        kind: 'fail_open',
        reason: `inspection failed: ${(err as Error).message}`,
        micros: us,
      });
      return { kind: 'forward', bytes: unit.length === 1 ? unit[0]! : concatAll(unit) };
    }
    const us = micros(t0);
    this.spentMicros += us;
    if (us > this.opts.budgetMicros)
      this.events.push({
        kind: 'slow',
        reason: `inspection took ${us.toFixed(0)} µs (budget ${this.opts.budgetMicros} µs)`,
        micros: us,
      });
    const pdu = unit.length === 1 ? unit[0]! : concatAll(unit);
    if (
      msgs.length === 0 &&
      !this.rules.open &&
      this.rules.zone !== null &&
      !this.dissector.linkControl?.(pdu, 0, pdu.length)
    ) {
      // Nothing in it the protocol's file can read: not a request we could judge.
      this.events.push({
        kind: 'refused',
        reason: `a ${this.dissector.protocol} PDU that carries no request Weir can read`,
        micros: us,
      });
      return { kind: 'close', reason: 'unreadable PDU' };
    }
    if (verdict === null) return { kind: 'forward', bytes: pdu };
    this.events.push({ kind: 'denied', reason: verdict, message: culprit!, micros: us });
    // Input no real client sends ends the connection; a request the groups do not allow is answered or dropped.
    // A secured channel the group does not allow: nothing more on it could be judged, so the channel ends here.
    if (
      verdict === 'malformed_pdu' ||
      verdict === 'not_a_request' ||
      verdict === 'unknown_function' ||
      verdict === 'secured_channel' ||
      CLOSE_ON_REFUSAL.has(this.dissector.protocol)
    ) {
      this.closed = true;
      return { kind: 'close', reason: verdict };
    }
    if (this.opts.deny === 'exception' && this.dissector.protocol === 'modbus') {
      const reply = modbusException(pdu, verdict);
      if (reply !== null)
        return { kind: 'reply', bytes: reply, pdu, reason: verdict, message: culprit! };
    }
    return { kind: 'drop', pdu, reason: verdict, message: culprit };
  }
}

const micros = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1000;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
