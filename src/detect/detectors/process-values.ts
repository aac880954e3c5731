import type { Detector } from '../detector.js';
import { finding, seenIn, type Severity } from '../detection.js';
import { placeValues } from '../../discover/values.js';
import { pointsOf } from '../profile.js';

/**
 * The tolerance around a learned range [min, max]: the larger of
 *  - the learned span (max − min): what the baseline kept of the point's normal noise, so a point that moved
 *    by 2 while learning may move 2 more either way without a finding;
 *  - 5 % of the value's magnitude, so a point that held still while learning (span 0) is not flagged for the
 *    smallest change of a large number;
 *  - 1, the smallest step of an integer register.
 */
export function valueTolerance(min: number, max: number): number {
  return Math.max(1, max - min, 0.05 * Math.max(Math.abs(min), Math.abs(max)));
}

/**
 * How bad a value outside its tolerance is, by how many tolerances it lies beyond the learned range: up to 3
 * is low, up to 10 medium, further high. A write is one step worse (it changes the process, a read only
 * reports it), up to high.
 */
export function valueSeverity(excess: number, tolerance: number, write: boolean): Severity {
  const k = excess / tolerance;
  const step = (k <= 3 ? 1 : k <= 10 ? 2 : 3) + (write ? 1 : 0);
  return step <= 1 ? 'low' : step === 2 ? 'medium' : 'high';
}

/**
 * Values read or written outside the range learned for that register/point by more than its tolerance
 * (see valueTolerance); the severity grows with the distance (see valueSeverity). Points of one pair and
 * function fold into one detection.
 */
export function valueOutOfRange(): Detector {
  return {
    name: 'value_out_of_range',
    messages: 'placed-learned',
    onMessage(m, ctx) {
      if (m.values === null && m.targets === null) return;
      const e = ctx.edge;
      const p = e?.profile;
      if (e === undefined || p === undefined || p === null) return;
      const learned = pointsOf(p);
      if (learned.size === 0) return;
      const at = placeValues(m, (e.pending ??= new Map()));
      if (at === null) return;
      const points = learned.get(at.space);
      if (points === undefined) return;
      const values = m.values!;
      for (let i = 0; i < values.length; i++) {
        const r = points.get(at.start + i);
        if (r === undefined) continue;
        const v = values[i]!;
        const tol = valueTolerance(r[0], r[1]);
        const excess = v < r[0] ? r[0] - v : v - r[1];
        if (excess <= tol) continue;
        const key = `${at.space}:${at.start + i}`;
        const severity = valueSeverity(excess, tol, m.write);
        const detail = `${m.protocol}:${m.func}`;
        // A repeat (a value stays out of its band for thousands of polls) folds without its texts and fields.
        if (
          ctx.fold('value_out_of_range', m.srcIp, m.dstIp, detail, severity, m.ts, m.frame, key, v)
        )
          continue;
        // Copied for the text built later (explainMany): the message object is the dissector's to reuse.
        const write = m.write;
        const how = write ? 'was written as' : 'read';
        const band = `${r[0]}..${r[1]} by more than its tolerance of ${+tol.toFixed(3)} (the larger of the learned span, 5 % of the value and 1)`;
        ctx.report(
          finding({
            type: 'value_out_of_range',
            severity,
            ...seenIn(m),
            detail,
            fields: {
              point: key,
              value: v,
              learned_min: r[0],
              learned_max: r[1],
              tolerance: tol,
              write: m.write,
              func_name: m.funcName,
            },
            explanation: `${key} on ${p.learned.server} ${how} ${v}, outside the learned range ${band}: ${+(excess / tol).toFixed(1)} tolerances out (up to 3 is low, up to 10 medium, beyond high; a write one step worse).`,
            response: m.write
              ? 'Ask operations whether this setpoint change was intended; an out-of-range write can damage equipment.'
              : 'Check the process: the value left its normal band (sensor fault, process upset, or manipulated logic).',
            point: key,
            pointValue: v,
            explainMany: (list, total) =>
              `${total} points on ${p.learned.server} ${write ? 'were written' : 'read'} outside their learned range and tolerance: ${list} (first: ${key} ${how} ${v}, outside the learned range ${band}).`,
          }),
        );
      }
    },
  };
}
