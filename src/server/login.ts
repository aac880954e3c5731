import type { Db } from '../store/db.js';
import { userRoles } from '../store/change-store.js';
import { createSession, passwordHash, upgradePasswordHash } from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import { DUMMY_HASH, hashPassword, needsRehash, newToken, verifyPassword } from './passwords.js';
import type { LoginThrottle } from './login-throttle.js';
import { untrustedText } from './untrusted.js';

export const SESSION_SECONDS = 8 * 3600;

export type LoginOutcome =
  | { ok: true; token: string; name: string; roles: string[] }
  | { ok: false; throttled: true; retryAfter: number }
  | { ok: false; throttled: false };

/**
 * One login attempt from `ip`: throttled per address and per name, the password checked in constant work
 * whether or not the name exists, failures and throttling audited (the name as the client's claim, never as
 * an actor), success audited and a new session made.
 */
export async function logIn(
  db: Db,
  throttle: LoginThrottle,
  a: { ip: string; user: string; password: string },
): Promise<LoginOutcome> {
  const slot = throttle.reserve(a.ip, a.user);
  if (!slot.ok) return { ok: false, throttled: true, retryAfter: slot.retryAfter };
  const stored = passwordHash(db, a.user);
  // Hash even for unknown users, so timing does not tell which names exist.
  let ok: boolean;
  try {
    ok = (await verifyPassword(a.password, stored ?? DUMMY_HASH)) && stored !== null;
  } catch (err) {
    slot.release(); // not checked (the server is busy): not a failure
    throw err;
  }
  if (!ok || stored === null) {
    // The name is the client's claim, not an identity: never the actor, and escaped where it is kept.
    const claimedUser = untrustedText(a.user);
    appendAudit(db, {
      actor: 'unauthenticated',
      action: 'login.failed',
      subject: a.ip,
      details: { claimedUser },
    });
    if (slot.filled.length)
      appendAudit(db, {
        actor: 'unauthenticated',
        action: 'login.throttled',
        subject: a.ip,
        details: { claimedUser, by: slot.filled },
      });
    return { ok: false, throttled: false };
  }
  slot.release();
  if (needsRehash(stored)) upgradePasswordHash(db, a.user, stored, await hashPassword(a.password));
  const { token, hash } = newToken();
  createSession(db, hash, a.user, Date.now() / 1000 + SESSION_SECONDS);
  appendAudit(db, { actor: a.user, action: 'login', subject: a.ip, details: {} });
  return { ok: true, token, name: a.user, roles: userRoles(db, a.user) ?? [] };
}
