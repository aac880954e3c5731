import type { Db } from '../store/db.js';
import { insertUser, setUserRoles, userRoles } from '../store/change-store.js';
import { adminsWithPassword } from '../store/user-accounts.js';
import { listUsers, removeUser, setPasswordHash } from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import { audited } from './audited.js';
import { ChangeRefused } from './change-control.js';
import { NotFound } from './detection-actions.js';

/**
 * An admin manages people and their roles (from the dashboard). Each change and its audit entry are written in
 * one transaction; any change of password or roles ends that person's sessions (a session is bound to both).
 * Passwords arrive hashed: hashing is slow on purpose and is not done while holding the store's write lock.
 */

/** Adding is adding: an existing person's roles change only through their own, audited step. */
export function addPerson(
  db: Db,
  s: { actor: string; name: string; roles: string[]; passwordHash: string },
): { name: string; roles: string[] } {
  return audited(db, () => {
    if (userRoles(db, s.name) !== null) throw new ChangeRefused(`${s.name} exists already`);
    insertUser(db, s.name, s.roles);
    setPasswordHash(db, s.name, s.passwordHash, s.actor);
    appendAudit(db, {
      actor: s.actor,
      action: 'user.added',
      subject: s.name,
      details: { roles: s.roles },
    });
    return { name: s.name, roles: s.roles };
  });
}

export function resetPassword(
  db: Db,
  s: { actor: string; name: string; passwordHash: string },
): void {
  audited(db, () => {
    if (!listUsers(db).some((u) => u.name === s.name)) throw new NotFound(`no user ${s.name}`);
    setPasswordHash(db, s.name, s.passwordHash, s.actor);
    appendAudit(db, {
      actor: s.actor,
      action: 'user.password_reset',
      subject: s.name,
      details: {},
    });
  });
}

/**
 * A person sets their own password (having proven the current one): the only password an approval counts from
 * once someone else has set it (review 14 C2).
 */
export function changeOwnPassword(db: Db, s: { name: string; passwordHash: string }): void {
  audited(db, () => {
    if (!listUsers(db).some((u) => u.name === s.name)) throw new NotFound(`no user ${s.name}`);
    setPasswordHash(db, s.name, s.passwordHash, s.name);
    appendAudit(db, {
      actor: s.name,
      action: 'user.password_changed',
      subject: s.name,
      details: {},
    });
  });
}

/** The last admin who can log in keeps the role, or nobody could manage users again. */
export function changeRoles(
  db: Db,
  s: { actor: string; name: string; roles: string[] },
): { name: string; roles: string[] } {
  return audited(db, () => {
    const before = userRoles(db, s.name);
    if (before === null) throw new NotFound(`no user ${s.name}`);
    if (
      before.includes('admin') &&
      !s.roles.includes('admin') &&
      adminsWithPassword(db).filter((a) => a !== s.name).length === 0
    )
      throw new ChangeRefused(`${s.name} is the last admin: make another admin first`);
    setUserRoles(db, s.name, s.roles);
    appendAudit(db, {
      actor: s.actor,
      action: 'user.roles_changed',
      subject: s.name,
      details: { from: before, to: s.roles },
    });
    return { name: s.name, roles: s.roles };
  });
}

/** Nobody removes themselves, nor the last admin; the person's approvals and audit entries stay. */
export function removePerson(db: Db, s: { actor: string; name: string }): void {
  if (s.name === s.actor) throw new ChangeRefused('you cannot remove yourself');
  audited(db, () => {
    let removed: boolean;
    try {
      removed = removeUser(db, s.name);
    } catch (err) {
      throw new ChangeRefused((err as Error).message);
    }
    if (!removed) throw new NotFound(`no user ${s.name}`);
    appendAudit(db, { actor: s.actor, action: 'user.removed', subject: s.name, details: {} });
  });
}
