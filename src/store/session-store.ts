import type { Db } from './db.js';

export function setPasswordHash(db: Db, user: string, hash: string): void {
  db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(hash, user);
}

export function passwordHash(db: Db, user: string): string | null {
  const r = db.prepare('SELECT password_hash AS h FROM users WHERE name = ?').get(user) as { h: string | null } | undefined;
  return r?.h ?? null;
}

export function listUsers(db: Db): Array<{ name: string; roles: string[]; createdAt: string; hasPassword: boolean }> {
  return (db.prepare('SELECT name, roles, created_at AS createdAt, password_hash IS NOT NULL AS hasPassword FROM users ORDER BY name').all() as Array<{ name: string; roles: string; createdAt: string; hasPassword: number }>)
    .map((u) => ({ ...u, roles: JSON.parse(u.roles) as string[], hasPassword: Boolean(u.hasPassword) }));
}

export function createSession(db: Db, tokenHash: string, user: string, expiresAt: number): void {
  db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(Date.now() / 1000);
  db.prepare('INSERT INTO sessions (token_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)').run(tokenHash, user, new Date().toISOString(), expiresAt);
}

/** The user a live session belongs to, with their current roles; null for an unknown, expired or orphaned token. */
export function sessionOf(db: Db, tokenHash: string): { name: string; roles: string[] } | null {
  const r = db.prepare('SELECT u.name, u.roles FROM sessions s JOIN users u ON u.name = s.user WHERE s.token_hash = ? AND s.expires_at > ?')
    .get(tokenHash, Date.now() / 1000) as { name: string; roles: string } | undefined;
  return r ? { name: r.name, roles: JSON.parse(r.roles) as string[] } : null;
}

export function deleteSession(db: Db, tokenHash: string): void {
  db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
}
