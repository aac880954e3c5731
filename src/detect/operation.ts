import type { DetectionType, Severity } from './detection.js';

/**
 * An engineering operation a request performs, as its detection reports it (engineering-ops.ts decides which;
 * the engine computes it once per request for every detector through DetectContext.operation).
 */
export interface Op {
  type: DetectionType;
  severity: Severity;
  what: string;
  /** ATT&CK for ICS technique ids (until the mapping table keyed by detection type lands). */
  techniques: readonly string[];
  /** The operation's name when several requests make one operation (a download creates many objects). */
  kind?: string | undefined;
  /** The object a request touched within that operation, folded into the detection's evidence. */
  point?: string | undefined;
}
