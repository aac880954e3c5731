import type { Detector } from '../detector.js';
import { placeValues } from '../../discover/values.js';
import { pointsOf } from '../profile.js';

/**
 * Values read or written outside the range learned for that register/point, with a margin of a tenth of the
 * learned span (at least 1) so normal drift stays quiet.
 */
export function valueOutOfRange(): Detector {
  return {
    name: 'value_out_of_range',
    messages: 'placed',
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
        const margin = Math.max(1, (r[1] - r[0]) * 0.1);
        if (v >= r[0] - margin && v <= r[1] + margin) continue;
        const key = `${at.space}:${at.start + i}`;
        ctx.report({
          type: 'value_out_of_range', severity: m.write ? 'high' : 'medium', ts: m.ts, frame: m.frame,
          src: m.srcIp, dst: m.dstIp, protocol: m.protocol, detail: key,
          fields: { point: key, value: v, learned_min: r[0], learned_max: r[1], write: m.write, func_name: m.funcName },
          explanation: `${key} on ${p.p.server} ${m.write ? 'was written as' : 'read'} ${v}, outside the learned range ${r[0]}..${r[1]}.`,
          response: m.write
            ? 'Ask operations whether this setpoint change was intended; an out-of-range write can damage equipment.'
            : 'Check the process: the value left its normal band (sensor fault, process upset, or manipulated logic).',
        });
      }
    },
  };
}
