import type { Db } from '../store/db.js';
import { approvalsOf, rolesSince, type ProposalRow } from '../store/change-store.js';

/** An approval that no longer counts, and why. */
export interface LapsedApproval {
  user: string;
  role: string;
  reason: string;
}

/**
 * The approvals of a proposal that no longer count: an approval stands only while its giver exists and has held
 * the role without a break since before the proposal was made (review 14 C3: the word of a person removed or
 * demoted, say for a compromised account, must not stay good for ever; a name removed and added again, or a role
 * taken away and given back, is a new grant).
 */
export function lapsedApprovals(
  db: Db,
  p: Pick<ProposalRow, 'id' | 'createdAt'>,
): LapsedApproval[] {
  const lapsed: LapsedApproval[] = [];
  for (const a of approvalsOf(db, p.id)) {
    const since = rolesSince(db, a.user);
    const at = since?.[a.role];
    const reason =
      since === null
        ? `${a.user} is no longer a user`
        : at === undefined
          ? `${a.user} no longer holds the ${a.role} role`
          : at > p.createdAt
            ? `${a.user} was given the ${a.role} role again after the proposal was made (${at.slice(0, 19)}Z)`
            : null;
    if (reason !== null) lapsed.push({ user: a.user, role: a.role, reason });
  }
  return lapsed;
}

/** What a person reads about lapsed approvals: one line, or null when every approval still counts. */
export function describeLapsed(id: number, lapsed: LapsedApproval[]): string | null {
  if (lapsed.length === 0) return null;
  return `proposal ${id}: approval no longer counts: ${lapsed.map((l) => `${l.role} (${l.reason})`).join('; ')}; it cannot be applied: reject or withdraw it and propose the change again`;
}

/** The roles whose approval still counts. */
export function standingRoles(db: Db, p: Pick<ProposalRow, 'id' | 'createdAt'>): string[] {
  const lapsed = new Set(lapsedApprovals(db, p).map((l) => l.role));
  return approvalsOf(db, p.id)
    .map((a) => a.role)
    .filter((r) => !lapsed.has(r));
}
