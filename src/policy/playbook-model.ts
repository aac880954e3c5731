import { DETECTION_TYPES, type Severity } from '../detect/detection.js';

/**
 * Pre-approved playbooks: what a zone's approvers agreed Weir may do on its own, at once, when a detection of
 * a given kind appears in the zone. They live in the policy, so they change only through change control.
 */

/** Detection types a playbook may trigger on (decoy_contact among them: the decoys' detections). */
export const PLAYBOOK_TRIGGERS = DETECTION_TYPES;
export type PlaybookTrigger = (typeof PLAYBOOK_TRIGGERS)[number];

export const PLAYBOOK_MODES = ['simulate', 'act'] as const;
export type PlaybookMode = (typeof PLAYBOOK_MODES)[number];

export const PLAYBOOK_ACTIONS = ['block_source', 'revoke_permits', 'notify'] as const;
export type PlaybookActionKind = (typeof PLAYBOOK_ACTIONS)[number];

export interface Playbook {
  name: string;
  description?: string;
  /** simulate: record what it would do, change nothing; act: carry it out. */
  mode: PlaybookMode;
  /** Detection types that trigger it. */
  on: PlaybookTrigger[];
  /** Only detections at least this severe. */
  minSeverity: Severity;
  /** Only when the source is in none of these zones (e.g. the supervisory zone's own HMIs). */
  sourceNotIn: string[];
  /** Only when the source is not an asset of the baseline (a newcomer). */
  sourceUnknown: boolean;
  actions: PlaybookActionKind[];
  /** How long a block lasts (seconds). */
  blockTtl: number;
  /**
   * Addresses (resolved from assets, addresses or CIDRs) the playbook may block even though they have
   * learned-normal flows: the approvers named them, having seen what that cuts.
   */
  mayBlock: string[];
  /**
   * At most `max` changes on the host (blocks, permit revocations) per `per` seconds; beyond it the playbook
   * records a refusal and changes nothing. Notices are not limited.
   */
  rateLimit: { max: number; per: number };
}
