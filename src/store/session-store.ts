import { createHash } from 'node:crypto';
import type { Db } from './db.js';

/**
 * What a session is bound to: the user's roles and password hash as they were at login. Any change to
 * either — a password reset, new roles, from the API or the CLI — ends every session of that user.
 */
function userSig(roles: string, passwordHash: string | null): string {
  return createHash('sha256')
    .update(`${roles}\n${passwordHash ?? ''}`)
    .digest('hex');
}

/**
 * Set a user's password, recording who set it (`by`: the user themself unless named) and when; their sessions
 * end (see userSig).
 */
export function setPasswordHash(db: Db, user: string, hash: string, by: string = user): void {
  const at = new Date().toISOString();
  db.prepare(
    'UPDATE users SET password_hash = ?, password_set_by = ?, password_set_at = ? WHERE name = ?',
  ).run(hash, by, at, user);
  // Set by someone else: kept apart, so the holder's own change afterwards does not hide who knew it.
  if (by !== user)
    db.prepare('UPDATE users SET password_reset_by = ?, password_reset_at = ? WHERE name = ?').run(
      by,
      at,
      user,
    );
}

/** The last time someone other than the holder set the user's password, and who (null: never). */
export function passwordResetBy(db: Db, user: string): { by: string; at: string } | null {
  const r = db
    .prepare('SELECT password_reset_by AS by, password_reset_at AS at FROM users WHERE name = ?')
    .get(user) as { by: string | null; at: string | null } | undefined;
  return r?.by && r.at ? { by: r.by, at: r.at } : null;
}

/** Who last set the user's password and when (null: no password, or set before this was kept). */
export function passwordSetBy(db: Db, user: string): { by: string; at: string } | null {
  const r = db
    .prepare('SELECT password_set_by AS by, password_set_at AS at FROM users WHERE name = ?')
    .get(user) as { by: string | null; at: string | null } | undefined;
  return r?.by && r.at ? { by: r.by, at: r.at } : null;
}

/**
 * Replace a hash by a stronger one of the same password (after a successful login): not a password change,
 * so the user's sessions are carried over. Only if the stored hash is still `from`.
 */
export function upgradePasswordHash(db: Db, user: string, from: string, to: string): boolean {
  return db
    .transaction(() => {
      const u = db
        .prepare('SELECT roles FROM users WHERE name = ? AND password_hash = ?')
        .get(user, from) as { roles: string } | undefined;
      if (u === undefined) return false;
      db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(to, user);
      db.prepare('UPDATE sessions SET user_sig = ? WHERE user = ? AND user_sig = ?').run(
        userSig(u.roles, to),
        user,
        userSig(u.roles, from),
      );
      return true;
    })
    .immediate();
}

export function passwordHash(db: Db, user: string): string | null {
  const r = db.prepare('SELECT password_hash AS h FROM users WHERE name = ?').get(user) as
    | { h: string | null }
    | undefined;
  return r?.h ?? null;
}

export function listUsers(
  db: Db,
): Array<{ name: string; roles: string[]; createdAt: string; hasPassword: boolean }> {
  return (
    db
      .prepare(
        'SELECT name, roles, created_at AS createdAt, password_hash IS NOT NULL AS hasPassword FROM users ORDER BY name',
      )
      .all() as Array<{ name: string; roles: string; createdAt: string; hasPassword: number }>
  ).map((u) => ({
    ...u,
    roles: JSON.parse(u.roles) as string[],
    hasPassword: Boolean(u.hasPassword),
  }));
}

/** Remove a user and end their sessions; false if there is none. Refuses to remove the last admin. */
export function removeUser(db: Db, name: string): boolean {
  return db
    .transaction(() => {
      const u = db.prepare('SELECT roles FROM users WHERE name = ?').get(name) as
        | { roles: string }
        | undefined;
      if (u === undefined) return false;
      if ((JSON.parse(u.roles) as string[]).includes('admin')) {
        const others = (
          db
            .prepare(
              "SELECT COUNT(*) AS n FROM users, json_each(users.roles) r WHERE r.value = 'admin' AND users.name <> ?",
            )
            .get(name) as { n: number }
        ).n;
        if (others === 0) throw new Error(`${name} is the last admin: add another admin first`);
      }
      db.prepare('DELETE FROM sessions WHERE user = ?').run(name);
      db.prepare('DELETE FROM users WHERE name = ?').run(name);
      return true;
    })
    .immediate();
}

/** End every session of a user (e.g. a lost laptop); returns how many there were. */
export function deleteSessionsOf(db: Db, user: string): number {
  return db.prepare('DELETE FROM sessions WHERE user = ?').run(user).changes;
}

export function createSession(db: Db, tokenHash: string, user: string, expiresAt: number): void {
  const u = db.prepare('SELECT roles, password_hash AS h FROM users WHERE name = ?').get(user) as
    | { roles: string; h: string | null }
    | undefined;
  if (u === undefined) throw new Error(`no user ${user}`);
  db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(Date.now() / 1000);
  db.prepare(
    'INSERT INTO sessions (token_hash, user, created_at, expires_at, user_sig) VALUES (?, ?, ?, ?, ?)',
  ).run(tokenHash, user, new Date().toISOString(), expiresAt, userSig(u.roles, u.h));
}

/** The user a live session belongs to, with their current roles; null for an unknown, expired or outdated token. */
export function sessionOf(db: Db, tokenHash: string): { name: string; roles: string[] } | null {
  const r = db
    .prepare(
      'SELECT u.name, u.roles, u.password_hash AS h, s.user_sig AS sig FROM sessions s JOIN users u ON u.name = s.user WHERE s.token_hash = ? AND s.expires_at > ?',
    )
    .get(tokenHash, Date.now() / 1000) as
    | { name: string; roles: string; h: string | null; sig: string | null }
    | undefined;
  if (r === undefined) return null;
  if (r.sig !== userSig(r.roles, r.h)) {
    deleteSession(db, tokenHash);
    return null;
  }
  return { name: r.name, roles: JSON.parse(r.roles) as string[] };
}

export function deleteSession(db: Db, tokenHash: string): void {
  db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
}
