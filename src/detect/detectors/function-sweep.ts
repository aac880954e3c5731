import type { Message } from '../../dissect/message.js';
import { type Detector, type EdgeRuntime } from '../detector.js';
import { finding, seenIn } from '../detection.js';

/** Window over which a client's new functions on one edge are counted. */
const WINDOW = 60;
/** Distinct functions outside the profile of a known edge that make a sweep. */
const KNOWN_EDGE = 4;
/** Distinct functions on an edge the baseline lacks: a new HMI uses a few, a sweep walks many. */
const NEW_EDGE = 8;

interface Sweep {
  start: number;
  funcs: Set<number>;
  /** Functions the protocol does not define (a sweep walks through them; a real client never uses them). */
  unknown: number;
  reporting: boolean;
}

/** Function names dissectors give codes their protocol does not define. */
const UNDEFINED = /^(FUNCTION|SERVICE|COMMAND|LEGACY|GROUP|TYPE)_/;

/**
 * A client walking function codes (59, 60, 61, … on Modbus, the way fuzzers and scanners map what a
 * controller answers): one detection per edge listing the functions, not one per function. Once an edge is
 * sweeping, function_outside_profile stays quiet on it for the window (the sweep carries the functions).
 */
export function functionSweep(): Detector {
  const state = new WeakMap<EdgeRuntime, Sweep>();
  return {
    name: 'function_sweep',
    messages: 'new-functions',
    onMessage(m: Message, ctx) {
      if (m.role === 'response' || m.func < 0 || !ctx.industrial) return;
      const e = ctx.edge;
      if (e === undefined) return;
      const p = e.profile;
      if (p !== null && p.functions.has(ctx.funcKey)) return;
      // Engineering operations keep their own detections.
      if (ctx.operation !== undefined) return;
      let s = state.get(e);
      if (s === undefined || m.ts - s.start > WINDOW) {
        if (s?.reporting) e.sweepUntil = undefined;
        s = { start: m.ts, funcs: new Set(), unknown: 0, reporting: false };
        state.set(e, s);
      }
      const fresh = !s.funcs.has(m.func);
      s.funcs.add(m.func);
      if (fresh && UNDEFINED.test(m.funcName)) s.unknown++;
      let first = false;
      if (!s.reporting) {
        // Many new functions, at least half of them ones the protocol does not define: an engineering tool
        // opening a session uses many services too, but only defined ones.
        const need = p === null ? NEW_EDGE : KNOWN_EDGE;
        if (s.funcs.size < need || s.unknown < need / 2) return;
        s.reporting = true;
        first = true;
      } else if (!fresh) return;
      e.sweepUntil = s.start + WINDOW;
      const funcs = [...s.funcs].sort((a, b) => a - b);
      // Copied for the text built later (explainMany): the message object is the dissector's to reuse.
      const src = m.srcIp,
        dst = m.dstIp,
        protocol = m.protocol;
      ctx.report(
        finding({
          type: 'function_sweep',
          severity: 'high',
          ...seenIn(m),
          detail: `${m.protocol}:sweep`,
          fields: {
            known_edge: p !== null,
            functions_in_window: s.funcs.size,
            window_s: WINDOW,
            attack: ['T0888', 'T0846'],
          },
          explanation: `${m.srcIp} tried ${s.funcs.size} ${m.protocol} functions ${p === null ? 'on a new edge' : 'this edge never used'} to ${m.dstIp} within ${WINDOW} s (${funcs.slice(0, 12).join(', ')}${funcs.length > 12 ? ', …' : ''}): a function sweep. ATT&CK for ICS T0888, T0846.`,
          response:
            'Someone is mapping what the controller answers (a fuzzer or scanner): find the source and block it at the gateway.',
          point: first ? funcs.map((f) => `${m.protocol}:${f}`) : `${m.protocol}:${m.func}`,
          explainMany: (list, total) =>
            `${src} swept ${total} ${protocol} functions on ${dst} (${list})${p === null ? ' on a new edge' : ', none in the profile'}. ATT&CK for ICS T0888, T0846.`,
        }),
      );
    },
  };
}
