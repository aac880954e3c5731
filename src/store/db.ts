import Database from 'better-sqlite3';
import { chmodSync, closeSync, constants, existsSync, openSync, statSync } from 'node:fs';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Told when an existing store had to be made private (default: a line on stderr). */
  warn?: (msg: string) => void;
}

/** Open (creating if needed) a Weir store and bring its schema up to date. */
export function openStore(path: string, opts: OpenOptions = {}): Db {
  if (path !== '' && path !== ':memory:' && !path.startsWith('file:'))
    keepPrivate(path, opts.warn ?? ((m) => process.stderr.write(`weir: warning: ${m}\n`)));
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/**
 * The store holds password hashes, session hashes and the plant's inventory: only its owner reads it. A new
 * file is created 0600 here, before SQLite opens it (SQLite gives the -wal, -shm and -journal files the mode
 * of the database file); existing files readable by others are tightened, with a warning.
 */
function keepPrivate(path: string, warn: (msg: string) => void): void {
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const loose = [path, `${path}-wal`, `${path}-shm`, `${path}-journal`].filter(
    (f) => existsSync(f) && (statSync(f).mode & 0o077) !== 0,
  );
  if (loose.length === 0) return;
  try {
    for (const f of loose) chmodSync(f, 0o600);
    warn(
      `${loose.join(', ')} could be read by other users (password hashes, the plant inventory): now 0600`,
    );
  } catch (err) {
    warn(
      `${loose.join(', ')} can be read by other users and could not be made private: ${(err as Error).message}`,
    );
  }
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as
    | { version: number }
    | undefined;
  let v = row?.version ?? 0;
  if (v > MIGRATIONS.length)
    throw new Error(
      `store schema version ${v} is newer than this Weir (${MIGRATIONS.length}); upgrade Weir`,
    );
  const tx = db.transaction(() => {
    for (; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.exec('DELETE FROM schema_version');
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
  });
  tx();
}
