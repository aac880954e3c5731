import type { Message } from '../../dissect/message.js';
import { functionKeyNumber } from '../../dissect/registry.js';
import type { Detector, EdgeRuntime } from '../detector.js';
import { targetLabels } from './targets.js';
import { finding } from '../detection.js';

/** An OPERATE must follow its SELECT within the outstation's select timeout (typically 5–10 s). */
const SELECT_TIMEOUT = 10;
/** A master keeps one request outstanding; this many unanswered in a row is a storm, not a slow link. */
const UNANSWERED = 20;

interface Dnp3Edge {
  /** When this run first saw the pair: a SELECT just before it was not seen, so an OPERATE then is not judged. */
  since: number;
  lastSelect: number;
  unanswered: number;
  firstUnanswered: number;
  firstFrame: number;
  storm: boolean;
}

/** Requests an outstation does not answer: CONFIRM and the no-acknowledge operate. */
function expectsResponse(m: Message): boolean {
  return m.func !== 0 && m.func !== 6;
}

/**
 * DNP3 control discipline: an OPERATE with no SELECT before it, or a DIRECT_OPERATE on a pair that never used
 * one, skips select-before-operate (the check-back that stops a wrong point being driven); and a master sending
 * request after request that the outstation never answers is flooding it, whatever its absolute rate.
 */
export function dnp3Control(): Detector {
  const state = new WeakMap<EdgeRuntime, Dnp3Edge>();
  const of = (e: EdgeRuntime, ts: number): Dnp3Edge => {
    let s = state.get(e);
    if (s === undefined)
      state.set(
        e,
        (s = {
          since: ts,
          lastSelect: -Infinity,
          unanswered: 0,
          firstUnanswered: 0,
          firstFrame: 0,
          storm: false,
        }),
      );
    return s;
  };
  return {
    name: 'dnp3_control',
    messages: 'all',
    protocols: ['dnp3'],
    onMessage(m, ctx) {
      if (m.protocol !== 'dnp3') return;
      const e = ctx.edge;
      if (e === undefined) return;
      const s = of(e, m.ts);
      if (m.role !== 'request') {
        if (!ctx.toServer) {
          s.unanswered = 0;
          s.storm = false;
        }
        return;
      }
      if (expectsResponse(m)) {
        if (s.unanswered === 0) {
          s.firstUnanswered = m.ts;
          s.firstFrame = m.frame;
        }
        s.unanswered++;
        if (s.unanswered >= UNANSWERED && !s.storm) {
          s.storm = true;
          ctx.report(
            finding({
              type: 'flood',
              severity: 'high',
              ts: m.ts,
              frame: s.firstFrame,
              src: m.srcIp,
              dst: m.dstIp,
              protocol: 'dnp3',
              detail: 'dnp3:unanswered',
              fields: {
                unanswered_requests: s.unanswered,
                since: s.firstUnanswered,
                last_frame: m.frame,
                attack: ['T0814'],
              },
              explanation: `${m.srcIp} sent ${s.unanswered} DNP3 requests in ${(m.ts - s.firstUnanswered).toFixed(1)} s to ${m.dstIp} without one response in between; a master keeps one request outstanding, so this is a request flood or a fuzzer. ATT&CK for ICS T0814.`,
              response:
                'Find the source; an outstation flooded with requests stops answering its real master. Rate-limit or block it.',
            }),
          );
        }
      }
      if (m.func === 3) {
        s.lastSelect = m.ts;
        return;
      }
      const direct = m.func === 5 || m.func === 6;
      if (m.func !== 4 && !direct) return;
      if (m.func === 4 && m.ts - s.lastSelect <= SELECT_TIMEOUT) {
        s.lastSelect = -Infinity; // one SELECT arms one OPERATE
        return;
      }
      if (m.func === 4 && m.ts - s.since <= SELECT_TIMEOUT) return;
      if (direct && e.profile?.functions.has(functionKeyNumber('dnp3', m.func))) return; // a pair that routinely operates directly
      const points = targetLabels(m);
      ctx.report(
        finding({
          type: 'operate_without_select',
          severity: 'high',
          ts: m.ts,
          frame: m.frame,
          src: m.srcIp,
          dst: m.dstIp,
          protocol: 'dnp3',
          detail: `dnp3:${m.func}`,
          fields: {
            func: m.func,
            func_name: m.funcName,
            targets: m.targets,
            attack: ['T0855', 'T0831'],
          },
          explanation: `${m.srcIp} sent ${m.funcName} to ${m.dstIp} ${direct ? 'directly, bypassing select-before-operate on a pair that never did so' : `with no SELECT in the ${SELECT_TIMEOUT} s before it`}. ATT&CK for ICS T0855, T0831.`,
          response:
            'Confirm with operations that this control was intended; unselected operates are how a rogue master drives outputs.',
          point: points.length ? points : undefined,
        }),
      );
    },
  };
}
