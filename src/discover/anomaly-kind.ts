import type { Anomaly } from '../dissect/message.js';

/**
 * The kind of a malformed PDU as baselines keep it, e.g. 'modbus: byte_count_mismatch': the protocol's typed
 * kind (its descriptor's `anomalies`), so PDUs malformed the same way with different numbers are one kind.
 */
export function anomalyKind(protocol: string, anomaly: Anomaly): string {
  return `${protocol}: ${anomaly.kind}`;
}
