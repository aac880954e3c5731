import { ICS_PROTOCOLS } from '../../dissect/message.js';
import type { Detector } from '../detector.js';
import { operationOf } from './engineering-ops.js';

const ICS = new Set<string>(ICS_PROTOCOLS);

/** A request with a function code this edge never used while the baseline was learned. */
export function functionOutsideProfile(): Detector {
  return {
    name: 'function_outside_profile',
    messages: 'requests',
    onMessage(m, ctx) {
      if (m.role === 'response' || m.func < 0 || !ICS.has(m.protocol)) return;
      const p = ctx.edge?.profile;
      if (p === undefined || p === null || p.functions.has(ctx.funcKey)) return;
      if (operationOf(m, ctx.funcKey) !== undefined) return; // engineering operations get their own, sharper detection
      ctx.report({
        type: 'function_outside_profile', severity: m.write ? 'high' : 'medium', ts: m.ts, frame: m.frame,
        src: m.srcIp, dst: m.dstIp, protocol: m.protocol, detail: `${m.protocol}:${m.func}`,
        fields: { func: m.func, func_name: m.funcName, unit: m.unit, targets: m.targets, write: m.write, baseline_functions: p.p.functions },
        explanation: `${m.srcIp} sent ${m.protocol} ${m.funcName || m.func} to ${m.dstIp}; this edge never used that function in the baseline.`,
        response: m.write
          ? 'Verify with operations that this write was intended; if not, block the function for this pair at the gateway.'
          : 'Check whether a new HMI screen or tool explains it; learn it or restrict the pair to its baseline functions.',
      });
    },
  };
}
