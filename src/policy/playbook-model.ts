import type { DetectionType, Severity } from '../detect/detection.js';

/**
 * Pre-approved playbooks: what a zone's approvers agreed Weir may do on its own, at once, when a detection of
 * a given kind appears in the zone. They live in the policy, so they change only through change control.
 */

/** Detection types a playbook may trigger on (decoy_contact is reserved for the decoys' detections). */
export const PLAYBOOK_TRIGGERS = [
  'new_asset',
  'new_edge',
  'new_protocol',
  'function_outside_profile',
  'write_new_range',
  'program_download',
  'program_upload',
  'cpu_stop',
  'cpu_start',
  'device_restart',
  'firmware_change',
  'config_change',
  'network_config_change',
  'time_change',
  'controller_lock',
  'unsolicited_control',
  'operate_without_select',
  'password_submission',
  'function_sweep',
  'protocol_mismatch',
  'file_transfer',
  'device_probe',
  'diagnostic_command',
  'port_scan',
  'host_scan',
  'value_out_of_range',
  'polling_stopped',
  'flood',
  'malformed_pdu',
  'arp_spoofing',
  'ip_conflict',
  'decoy_contact',
] as const;
export type PlaybookTrigger = (typeof PLAYBOOK_TRIGGERS)[number];
// Every detection type can be named as a trigger: adding a detector without adding it here fails to compile.
type Missing = Exclude<DetectionType, PlaybookTrigger>;
const _everyDetectionType: Missing extends never ? true : Missing = true;
void _everyDetectionType;

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
