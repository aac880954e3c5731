import { APPROVER_ROLES } from '../policy/model.js';

/** Who people are to Weir: approvers by what they answer for, plus readers, analysts and administrators. */
export const USER_ROLES = ['viewer', 'analyst', ...APPROVER_ROLES, 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** What each kind of change needs; reading needs any role. */
export const CAN: Record<
  | 'actOnDetections'
  | 'propose'
  | 'recordEvidence'
  | 'enforce'
  | 'manageUsers'
  | 'updateKnowledge'
  | 'trustKeys'
  | 'ownAccount',
  readonly UserRole[]
> = {
  actOnDetections: ['analyst', 'security', 'admin'],
  propose: ['security', 'engineering', 'operations', 'admin'],
  /** Simulations recorded in the store are the evidence change control relies on. */
  recordEvidence: ['analyst', 'security', 'engineering', 'operations', 'admin'],
  /** Acting on the enforcement host: loading or removing rules, blocking, unblocking and permitting flows. */
  enforce: ['security', 'operations', 'admin'],
  manageUsers: ['admin'],
  /** Importing advisories and offline bundles (what Weir knows of the world, not what the plant runs). */
  updateKnowledge: ['analyst', 'security', 'admin'],
  /** Choosing whose signed bundles the store accepts. */
  trustKeys: ['security', 'admin'],
  /** One's own account (setting one's own password): every role. */
  ownAccount: USER_ROLES,
};

export function isUserRole(r: string): r is UserRole {
  return (USER_ROLES as readonly string[]).includes(r);
}
