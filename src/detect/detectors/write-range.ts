import type { Detector } from '../detector.js';

/** A write to registers/objects this edge never wrote during learning: setpoints or logic being changed. */
export function writeNewRange(): Detector {
  return {
    name: 'write_new_range',
    messages: 'requests',
    onMessage(m, ctx) {
      if (!m.write || m.role === 'response' || m.targets === null) return;
      const e = ctx.edge;
      if (e === undefined) return;
      const p = e.profile;
      if (p === null) {
        // A write from a pair that never talked while learning: the new edge is reported too, but the write
        // is what can change the process.
        const t = m.targets[0]!;
        ctx.report({
          type: 'write_new_range', severity: 'critical', ts: m.ts, frame: m.frame, src: m.srcIp, dst: m.dstIp, protocol: m.protocol,
          detail: `${t.space}:${t.start}`,
          fields: { func: m.func, func_name: m.funcName, space: t.space, start: t.start, count: t.count, values: m.values, baseline_writes: [] },
          explanation: `${m.srcIp} wrote ${t.space} ${t.start}${t.count > 1 ? `..${t.start + t.count - 1}` : ''} on ${m.dstIp} (${m.protocol} ${m.funcName}), and this pair never communicated while the baseline was learned.`,
          response: 'Treat as unauthorised control until proven otherwise: verify the process value with operations and propose a block of the source.',
        });
        return;
      }
      for (const t of m.targets) {
        if (p.writes.get(t.space)?.covers(t.start, t.count)) continue;
        const known = p.p.writes[t.space];
        ctx.report({
          type: 'write_new_range', severity: 'high', ts: m.ts, frame: m.frame, src: m.srcIp, dst: m.dstIp, protocol: m.protocol,
          detail: `${t.space}:${t.start}`,
          fields: { func: m.func, func_name: m.funcName, space: t.space, start: t.start, count: t.count, values: m.values, baseline_writes: known ?? [] },
          explanation: `${m.srcIp} wrote ${t.space} ${t.start}${t.count > 1 ? `..${t.start + t.count - 1}` : ''} on ${m.dstIp}, where it never wrote before${known ? ` (it writes ${known.map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(', ')})` : ''}.`,
          response: 'Confirm with the controls engineer; an unknown write can change the process. Block writes outside the profile at the gateway if unintended.',
        });
      }
    },
  };
}
