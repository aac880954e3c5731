import type { Message } from '../../dissect/message.js';
import type { Detector } from '../detector.js';
import { isNewFunction } from './function-profile.js';
import { rangeLabel, rangeText } from './targets.js';
import { finding, seenIn } from '../detection.js';

/** The function a write used: findings on many points of one function fold into one detection. */
function writeFunction(m: Message): string {
  return `${m.protocol}:${m.func}`;
}

/** A write finding's evidence: the range written, the values, and the ranges this pair wrote while learning. */
function writeFields(
  m: Message,
  t: NonNullable<Message['targets']>[number],
  baselineWrites: unknown[],
): Record<string, unknown> {
  return {
    func: m.func,
    func_name: m.funcName,
    space: t.space,
    start: t.start,
    count: t.count,
    values: m.values,
    baseline_writes: baselineWrites,
  };
}

/**
 * A write to registers/objects this edge never wrote during learning: setpoints or logic being changed. Ranges
 * of one pair and function fold into one detection (a control session on 14 points is one line).
 */
export function writeNewRange(): Detector {
  return {
    name: 'write_new_range',
    messages: 'writes',
    onMessage(m, ctx) {
      if (!m.write || m.role === 'response' || m.targets === null) return;
      const e = ctx.edge;
      if (e === undefined) return;
      // An engineering operation (program download, clock or network change) has its own detection.
      if (ctx.operation !== undefined) return;
      const p = e.profile;
      if (p === null) {
        // A function sweep on a new edge lists its functions in one detection.
        if (e.sweepUntil !== undefined && m.ts <= e.sweepUntil) return;
        // A write from a pair that never talked while learning: the new edge is reported too, but the write
        // is what can change the process.
        const t = m.targets[0]!;
        const point = rangeLabel(t.space, t.start, t.count);
        const detail = writeFunction(m);
        if (ctx.fold('write_new_range', m.srcIp, m.dstIp, detail, 'critical', m.ts, m.frame, point))
          return;
        const how = `(${m.protocol} ${m.funcName || m.func})`;
        // The text for many points is built later, from copies: the message object is the dissector's to reuse.
        const src = m.srcIp,
          dst = m.dstIp;
        ctx.report(
          finding({
            type: 'write_new_range',
            severity: 'critical',
            ...seenIn(m),
            detail,
            fields: writeFields(m, t, []),
            explanation: `${m.srcIp} wrote ${rangeText(t.space, t.start, t.count)} on ${m.dstIp} ${how}, and this pair never communicated while the baseline was learned.`,
            response:
              'Treat as unauthorised control until proven otherwise: verify the process value with operations and propose a block of the source.',
            point,
            explainMany: (list, total) =>
              `${src} wrote ${total} points (${list}) on ${dst} ${how}, and this pair never communicated while the baseline was learned.`,
          }),
        );
        return;
      }
      // A write with a function the edge never used is one function_outside_profile finding listing its ranges.
      if (isNewFunction(m, ctx, p)) return;
      for (const t of m.targets) {
        if (p.writes.get(t.space)?.covers(t.start, t.count)) continue;
        const point = rangeLabel(t.space, t.start, t.count);
        const detail = writeFunction(m);
        // A repeat folds without its texts and fields (the learned ranges listed in it are the costly part).
        if (ctx.fold('write_new_range', m.srcIp, m.dstIp, detail, 'high', m.ts, m.frame, point))
          continue;
        const known = p.learned.writes[t.space];
        const before = known
          ? ` (it writes ${known.map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(', ')})`
          : '';
        const how = `(${m.protocol} ${m.funcName || m.func})`;
        const src = m.srcIp,
          dst = m.dstIp;
        ctx.report(
          finding({
            type: 'write_new_range',
            severity: 'high',
            ...seenIn(m),
            detail,
            fields: writeFields(m, t, known ?? []),
            explanation: `${m.srcIp} wrote ${rangeText(t.space, t.start, t.count)} on ${m.dstIp} ${how}, where it never wrote before${before}.`,
            response:
              'Confirm with the controls engineer; an unknown write can change the process. Block writes outside the profile at the gateway if unintended.',
            point,
            explainMany: (list, total) =>
              `${src} wrote ${total} points it never wrote before on ${dst} ${how}: ${list}${before}.`,
          }),
        );
      }
    },
  };
}
