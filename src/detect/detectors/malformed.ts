import type { Detector } from '../detector.js';
import { anomalyKind } from '../../discover/anomaly-kind.js';
import { finding } from '../detection.js';

/** PDUs that break their protocol's rules: fuzzing, exploits against parsers, or broken devices. */
export function malformedPdu(): Detector {
  return {
    name: 'malformed_pdu',
    messages: 'anomalies',
    onMessage(m, ctx) {
      if (m.anomaly === null) return;
      if (m.fields?.foreign_protocol !== undefined) return; // protocol_mismatch names it
      const kind = anomalyKind(m.protocol, m.anomaly);
      if (ctx.edge?.profile?.learned.anomalyKinds.includes(kind)) return; // this device always did this while learning
      const src = m.srcIp || m.srcMac,
        dst = m.dstIp || m.dstMac;
      // A repeat (a faulty device sends the same broken PDU every poll) folds without its text and fields.
      if (ctx.fold('malformed_pdu', src, dst, kind, 'medium', m.ts, m.frame)) return;
      ctx.report(
        finding({
          type: 'malformed_pdu',
          severity: 'medium',
          ts: m.ts,
          frame: m.frame,
          src,
          dst,
          protocol: m.protocol,
          detail: kind,
          fields: {
            anomaly: m.anomaly.detail,
            anomaly_kind: m.anomaly.kind,
            func: m.func,
            func_name: m.funcName,
          },
          explanation: `${m.protocol} message from ${m.srcIp || m.srcMac} to ${m.dstIp || m.dstMac} is malformed: ${m.anomaly.detail}.`,
          response:
            'Look at the frames: malformed industrial PDUs can crash controllers. Find the sender and stop it if it is not a known faulty device.',
        }),
      );
    },
  };
}
