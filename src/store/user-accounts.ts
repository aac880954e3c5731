import type { Db } from './db.js';

/** Whether anyone can log in yet; until then the store is being set up and the first admin may add themselves. */
export function anyUserWithPassword(db: Db): boolean {
  return (
    db.prepare('SELECT 1 FROM users WHERE password_hash IS NOT NULL LIMIT 1').get() !== undefined
  );
}

/** Admins who can log in: the last one must not be removed or demoted, or nobody can manage users again. */
export function adminsWithPassword(db: Db): string[] {
  return (
    db
      .prepare(
        "SELECT name FROM users WHERE password_hash IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = 'admin') ORDER BY name",
      )
      .all() as Array<{ name: string }>
  ).map((r) => r.name);
}
