import type { BlockedFlow } from './simulate.js';

export type ViolationSeverity = 'critical' | 'high' | 'medium' | 'low';

export const SEVERITY_RANK: Record<ViolationSeverity, number> = {
  critical: 3,
  high: 2,
  medium: 1,
  low: 0,
};

/**
 * How much a refused flow (a violation of the policy, in drift) matters to the process, from what the traffic did: an engineering operation
 * (program transfer, CPU stop/start, configuration) is critical; a write, a malformed or unknown request is high;
 * a conversation the policy has no place for, a scan, or a request Weir cannot classify is medium; a refused
 * read (or diagnostic, identity, session request) is low.
 */
export function severityOf(b: BlockedFlow): ViolationSeverity {
  const c = b.category;
  if (c === 'program' || c === 'control' || c === 'config') return 'critical';
  if (
    c === 'write' ||
    b.write ||
    b.reason === 'malformed_pdu' ||
    b.reason === 'not_a_request' ||
    b.reason === 'unknown_function'
  )
    return 'high';
  // A secured OPC UA channel: what it would have carried is unknown.
  if (b.func === null || c === 'unknown' || b.reason === 'secured_channel') return 'medium';
  return 'low';
}
