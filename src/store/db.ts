import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/** Open (creating if needed) a Weir store and bring its schema up to date. */
export function openStore(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  let v = row?.version ?? 0;
  if (v > MIGRATIONS.length) throw new Error(`store schema version ${v} is newer than this Weir (${MIGRATIONS.length}); upgrade Weir`);
  const tx = db.transaction(() => {
    for (; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.exec('DELETE FROM schema_version');
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
  });
  tx();
}
