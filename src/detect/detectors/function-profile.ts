import type { Message } from '../../dissect/message.js';
import { type DetectContext, type Detector } from '../detector.js';
import type { CompiledProfile } from '../profile.js';
import { targetLabels } from './targets.js';
import { finding, seenIn } from '../detection.js';

/**
 * Does this request use an industrial function the edge's profile lacks (and that is no engineering operation,
 * which gets its own, sharper detection)? Then function_outside_profile reports it, with the ranges it wrote.
 */
export function isNewFunction(m: Message, ctx: DetectContext, p: CompiledProfile): boolean {
  return (
    m.func >= 0 &&
    ctx.industrial &&
    !p.functions.has(ctx.funcKey) &&
    ctx.operation === undefined &&
    // DNP3 direct operates have their own detection (operate_without_select).
    !(m.protocol === 'dnp3' && (m.func === 5 || m.func === 6))
  );
}

/**
 * A request with a function code this edge never used while the baseline was learned. One detection per pair
 * and function: the addresses a write function touched are its evidence points (not a write_new_range each).
 */
export function functionOutsideProfile(): Detector {
  return {
    name: 'function_outside_profile',
    messages: 'new-functions',
    onMessage(m, ctx) {
      if (m.role === 'response') return;
      const p = ctx.edge?.profile;
      if (p === undefined || p === null || !isNewFunction(m, ctx, p)) return;
      // A sweep in progress lists the functions in one detection.
      const until = ctx.edge!.sweepUntil;
      if (until !== undefined && m.ts <= until) return;
      const points = m.write && m.targets !== null ? targetLabels(m) : undefined;
      const severity = m.write ? 'high' : 'medium';
      const detail = `${m.protocol}:${m.func}`;
      // A repeat (an unlearned function polled every second) folds without its texts and fields.
      const type = 'function_outside_profile';
      if (ctx.fold(type, m.srcIp, m.dstIp, detail, severity, m.ts, m.frame, points)) return;
      // Copied for the text built later (explainMany): the message object is the dissector's to reuse.
      const sent = `${m.srcIp} sent ${m.protocol} ${m.funcName || m.func} to ${m.dstIp}`;
      ctx.report(
        finding({
          type,
          severity,
          ...seenIn(m),
          detail,
          fields: {
            func: m.func,
            func_name: m.funcName,
            unit: m.unit,
            targets: m.targets,
            write: m.write,
            baseline_functions: p.learned.functions,
          },
          explanation: `${m.srcIp} sent ${m.protocol} ${m.funcName || m.func} to ${m.dstIp}; this edge never used that function in the baseline.`,
          response: m.write
            ? 'Verify with operations that this write was intended; if not, block the function for this pair at the gateway.'
            : 'Check whether a new HMI screen or tool explains it; learn it or restrict the pair to its baseline functions.',
          point: points !== undefined ? points : undefined,
          explainMany: (list, total) =>
            `${sent}, writing ${total} points (${list}); this edge never used that function in the baseline.`,
        }),
      );
    },
  };
}
