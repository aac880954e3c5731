import type { Message, PduContext } from '../../dissect/message.js';
import type { StreamDissector } from '../../dissect/protocol.js';
import { messageVerdict, type BlockReason, type FlowRules } from '../../policy/evaluate.js';
import { modbusException } from './deny.js';

/** What to do with a refused request: answer it (Modbus exception) or drop it (the client times out). */
export type DenyMode = 'exception' | 'drop';

export type Action =
  | { kind: 'forward'; bytes: Uint8Array }
  | { kind: 'reply'; bytes: Uint8Array; pdu: Uint8Array; reason: BlockReason; message: Message }
  | { kind: 'drop'; pdu: Uint8Array; reason: BlockReason; message: Message };

export interface InspectorEvent {
  kind: 'denied' | 'fail_open';
  reason: string;
  message?: Message;
  /** Inspection time of the PDU, microseconds. */
  micros: number;
}

export interface InspectorOptions {
  deny: DenyMode;
  /** Inspection of one PDU may take this long; beyond it the PDU is forwarded and a fail-open logged. */
  budgetMicros: number;
  /** A test hook that runs inside inspection (to prove that a fault fails open). */
  fault?: () => void;
  now?: () => number;
}

/** Buffered bytes beyond this without a whole PDU mean it is not the expected protocol: pass through. */
const MAX_PENDING = 1 << 20;

/**
 * Checks the client → server byte stream of one connection PDU by PDU against the flow's context groups.
 * Pure apart from the clock: bytes in, actions out. Any fault, overrun or unknown framing fails open.
 */
export class StreamInspector {
  private pending: Uint8Array = new Uint8Array(0);
  private passThrough = false;
  private readonly state: Record<string, unknown> = {};
  private frame = 0;
  readonly events: InspectorEvent[] = [];

  constructor(private readonly dissector: StreamDissector, private readonly rules: FlowRules, private readonly ctx: PduContext,
    private readonly opts: InspectorOptions) {}

  /** Feed bytes from the client; returns what to send on, in order. */
  push(chunk: Uint8Array): Action[] {
    if (this.passThrough) return [{ kind: 'forward', bytes: chunk }];
    const buf = this.pending.length ? concat(this.pending, chunk) : chunk;
    const out: Action[] = [];
    let off = 0;
    while (off < buf.length) {
      const len = this.dissector.pduLength(buf, off, buf.length - off);
      if (len < 0) return this.giveUp(out, buf.subarray(off), 'stream is not ' + this.dissector.protocol);
      if (len === 0 || off + len > buf.length) break;
      out.push(this.judge(buf.subarray(off, off + len)));
      off += len;
    }
    this.pending = buf.subarray(off).slice();
    if (this.pending.length > MAX_PENDING) { const rest = this.pending; this.pending = new Uint8Array(0); return this.giveUp(out, rest, 'no PDU boundary within 1 MiB'); }
    return out;
  }

  private giveUp(out: Action[], rest: Uint8Array, reason: string): Action[] {
    this.passThrough = true;
    this.events.push({ kind: 'fail_open', reason: `${reason}; passing the connection through`, micros: 0 });
    out.push({ kind: 'forward', bytes: rest.slice() });
    return out;
  }

  private judge(pdu: Uint8Array): Action {
    const t0 = process.hrtime.bigint();
    let verdict: { reason: BlockReason; message: Message } | null = null;
    try {
      this.opts.fault?.();
      const ctx = this.ctx;
      ctx.ts = (this.opts.now ?? Date.now)() / 1000;
      ctx.frame = ++this.frame;
      const msgs: Message[] = [];
      this.dissector.dissect(pdu, 0, pdu.length, ctx, true, msgs, this.state);
      for (const m of msgs) {
        if (m.role === 'response') continue;
        const v = messageVerdict(this.rules, m);
        if (typeof v === 'string') { verdict = { reason: v, message: m }; break; }
      }
    } catch (err) {
      return this.failOpen(pdu, `inspection failed: ${(err as Error).message}`, t0);
    }
    const micros = Number(process.hrtime.bigint() - t0) / 1000;
    if (micros > this.opts.budgetMicros) return this.failOpen(pdu, `inspection took ${micros.toFixed(0)} µs (budget ${this.opts.budgetMicros} µs)`, t0);
    if (verdict === null) return { kind: 'forward', bytes: pdu.slice() };
    this.events.push({ kind: 'denied', reason: verdict.reason, message: verdict.message, micros });
    if (this.opts.deny === 'exception') {
      const reply = this.dissector.protocol === 'modbus' ? modbusException(pdu, verdict.reason) : null;
      if (reply !== null) return { kind: 'reply', bytes: reply, pdu: pdu.slice(), ...verdict };
    }
    return { kind: 'drop', pdu: pdu.slice(), ...verdict };
  }

  private failOpen(pdu: Uint8Array, reason: string, t0: bigint): Action {
    this.events.push({ kind: 'fail_open', reason, micros: Number(process.hrtime.bigint() - t0) / 1000 });
    return { kind: 'forward', bytes: pdu.slice() };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
