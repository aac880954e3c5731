import type { Detector } from '../detector.js';
import { finding, seenIn } from '../detection.js';

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
        finding({
          type: 'new_protocol',
          severity: 'high',
          ...seenIn(m),
          detail: m.protocol,
          fields: { protocol: m.protocol, baseline_protocols: [...p.protocols] },
          explanation: `${m.srcIp} → ${m.dstIp} carried ${m.protocol}, but this edge only ever used ${[...p.protocols].join(', ')}.`,
          response:
            'Find the program that generated it; unexpected protocols on control edges often mean new tooling or an intruder.',
        }),
      );
    },
  };
}
