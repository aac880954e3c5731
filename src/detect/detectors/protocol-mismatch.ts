import type { Detector } from '../detector.js';
import { finding, seenIn } from '../detection.js';

/**
 * Another protocol on an industrial port (TLS, HTTP, DCE/RPC, NFS, RDP… to tcp/502, 102, 20000, 44818, 2404):
 * no honest device sends it there. Either a tunnel through an allowed conduit or a tool probing the port.
 */
export function protocolMismatch(): Detector {
  return {
    name: 'protocol_mismatch',
    messages: 'anomalies',
    onMessage(m, ctx) {
      const foreign = m.fields?.foreign_protocol;
      if (typeof foreign !== 'string') return;
      const port = ctx.toServer ? m.dstPort : m.srcPort;
      ctx.report(
        finding({
          type: 'protocol_mismatch',
          severity: 'high',
          ...seenIn(m),
          detail: `${m.protocol}:${foreign}`,
          fields: { port, expected: m.protocol, found: foreign, attack: ['T0869', 'T0885'] },
          explanation: `${m.srcIp} sent ${foreign.toUpperCase()} to ${m.dstIp} on ${m.transport}/${port}, the ${m.protocol} port: the payload is not ${m.protocol}. ATT&CK for ICS T0869, T0885.`,
          response:
            'Find what runs this traffic: a tunnel through an allowed industrial conduit or a scanner. Block it at the gateway, which only passes the port’s own protocol.',
        }),
      );
    },
  };
}
