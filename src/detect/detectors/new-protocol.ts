import type { Detector } from '../detector.js';
import { finding } from '../detection.js';

/** A known edge starts speaking a protocol it never used (e.g. S7 over a Modbus pair, or a tunnel). */
export function newProtocol(): Detector {
  return {
    name: 'new_protocol',
    messages: 'new-protocols',
    onMessage(m, ctx) {
      const p = ctx.edge?.profile;
      if (p === undefined || p === null || m.transport === 'l2' || p.protocols.has(m.protocol))
        return;
      ctx.report(
        finding(
          'new_protocol',
          'high',
          m.ts,
          m.frame,
          m.srcIp,
          m.dstIp,
          m.protocol,
          m.protocol,
          { protocol: m.protocol, baseline_protocols: [...p.protocols] },
          `${m.srcIp} → ${m.dstIp} carried ${m.protocol}, but this edge only ever used ${[...p.protocols].join(', ')}.`,
          'Find the program that generated it; unexpected protocols on control edges often mean new tooling or an intruder.',
        ),
      );
    },
  };
}
