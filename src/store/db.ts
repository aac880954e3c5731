import Database from 'better-sqlite3';
import { chmodSync, closeSync, constants, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Told when an existing store had to be made private (default: a line on stderr). */
  warn?: (msg: string) => void;
  /**
   * How long a statement waits for another process's lock before SQLITE_BUSY (default 5 s). A daemon that
   * retries on its own (a fleet node) waits less: the wait blocks its event loop.
   */
  busyTimeoutMs?: number;
}

/** Open (creating if needed) a Weir store and bring its schema up to date. */
export function openStore(path: string, opts: OpenOptions = {}): Db {
  if (isFile(path))
    keepPrivate(path, opts.warn ?? ((m) => process.stderr.write(`weir: warning: ${m}\n`)));
  const db = new Database(
    path,
    opts.busyTimeoutMs !== undefined ? { timeout: opts.busyTimeoutMs } : {},
  );
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  try {
    migrate(db, path, opts);
  } catch (err) {
    db.close();
    throw err;
  }
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

/** The schema version this Weir writes: one per migration. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The schema version a store records (0: a new, empty file). */
export function schemaVersion(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as
    | { version: number }
    | undefined;
  return row?.version ?? 0;
}

/**
 * Apply the migrations after the store's version up to `upTo` (all by default), in one transaction. Exported
 * for the upgrade tests, which build a store at an older schema with today's code.
 */
export function applyMigrations(db: Db, upTo = SCHEMA_VERSION): void {
  let v = schemaVersion(db);
  const tx = db.transaction(() => {
    for (; v < upTo; v++) db.exec(MIGRATIONS[v]!);
    db.exec('DELETE FROM schema_version');
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
  });
  tx();
}

/** Where the copy taken before migrating `path` from schema `from` goes (never over an earlier one). */
export function upgradeBackupPath(path: string, from: number, exists = existsSync): string {
  const base = `${path}.schema-${from}.bak`;
  if (!exists(base)) return base;
  for (let i = 2; ; i++) if (!exists(`${base}.${i}`)) return `${base}.${i}`;
}

/**
 * Bring the schema up to date. A store from an older release is copied first (a consistent snapshot, 0600,
 * beside it) so a failed or regretted upgrade can be undone; a store newer than this code is refused untouched.
 */
function migrate(db: Db, path: string, opts: OpenOptions): void {
  const v = schemaVersion(db);
  if (v > SCHEMA_VERSION)
    throw new Error(
      `${path === '' ? 'the store' : path} has schema version ${v}, newer than this Weir understands (${SCHEMA_VERSION}): ` +
        'it was written by a newer release, and an older one would misread it. Install that release (or newer) ' +
        'again, or restore the backup taken before the upgrade (the *.schema-N.bak file beside the store) with `weir restore`.',
    );
  if (v === SCHEMA_VERSION) return;
  if (v > 0 && isFile(path)) {
    const copy = upgradeBackupPath(path, v);
    let created = false;
    try {
      closeSync(openSync(copy, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
      created = true;
      db.prepare('VACUUM INTO ?').run(copy);
    } catch (err) {
      if (created) rmSync(copy, { force: true });
      throw new Error(
        `${path} needs an upgrade from schema ${v} to ${SCHEMA_VERSION}, but the backup taken first (${copy}) failed: ` +
          `${(err as Error).message}. The store is unchanged; free space beside it (weir doctor) and start again.`,
      );
    }
    const tell = opts.warn ?? ((m: string) => process.stderr.write(`weir: ${m}\n`));
    tell(
      `upgrading ${path} from schema ${v} to ${SCHEMA_VERSION}; the store as it was is kept in ${copy}`,
    );
  }
  applyMigrations(db);
}

const isFile = (path: string): boolean =>
  path !== '' && path !== ':memory:' && !path.startsWith('file:');
