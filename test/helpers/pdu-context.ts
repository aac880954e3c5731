import type { PduContext } from '../../src/dissect/message.js';

/** Where a dissector test's PDU came from: client 10.0.0.1:40000 to 10.0.0.2:502 over TCP, frame 1; override any part. */
export function pduContext(over: Partial<PduContext> = {}): PduContext {
  return {
    frame: 1,
    ts: 1,
    transport: 'tcp',
    srcMac: '',
    dstMac: '',
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.2',
    srcPort: 40000,
    dstPort: 502,
    ...over,
  };
}
