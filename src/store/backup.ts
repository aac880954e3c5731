import Database from 'better-sqlite3';
import {
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  copyFileSync,
  chmodSync,
  chownSync,
} from 'node:fs';
import path from 'node:path';
import { SCHEMA_VERSION, type Db } from './db.js';

export interface BackupResult {
  file: string;
  pages: number;
  bytes: number;
  schema: number;
}

/** A new file only its owner reads (the store holds password hashes): refuse to overwrite anything. */
function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new Error(`${file} exists already: a backup never overwrites a file; name another`);
    throw err;
  }
}

/**
 * Copy a store while others keep writing it, with SQLite's online backup. Every page goes in one step, so the
 * copy is one consistent snapshot (in WAL mode a reader never blocks the server's writes, and a step that is
 * not interrupted is not restarted by them). The copy is checked before it is reported.
 */
export async function backupStore(db: Db, to: string): Promise<BackupResult> {
  createPrivate(to);
  try {
    const r = await db.backup(to, {
      progress: ({ remainingPages }) => Math.max(remainingPages, 1),
    });
    const schema = checkStoreFile(to).schema;
    return { file: to, pages: r.totalPages, bytes: statSync(to).size, schema };
  } catch (err) {
    rmSync(to, { force: true });
    throw err;
  }
}

/** Back up the store at `from` as it is (no migration: an older store is copied at its own schema). */
export async function backupStoreFile(from: string, to: string): Promise<BackupResult> {
  if (!existsSync(from)) throw new Error(`no store at ${from}`);
  const owner = statSync(from);
  const sidecars = [`${from}-wal`, `${from}-shm`].filter((f) => !existsSync(f));
  const db = new Database(from, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const r = await backupStore(db, to);
    // root backing up the service's store (cron) gives the copy to the store's owner, like the store.
    if (process.getuid?.() === 0) chownSync(to, owner.uid, owner.gid);
    return r;
  } finally {
    db.close();
    // Sidecar files this connection created (the server was stopped) belong to the store's owner, or the
    // service could no longer open its own store after a root backup.
    if (process.getuid?.() === 0)
      for (const f of sidecars) if (existsSync(f)) chownSync(f, owner.uid, owner.gid);
  }
}

/** Is this file a whole, readable Weir store this code can open? Its schema version, or an error saying why not. */
export function checkStoreFile(file: string): { schema: number } {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`${file} is not a SQLite database: ${(err as Error).message}`);
  }
  try {
    let ok: string;
    try {
      ok = String(db.pragma('integrity_check', { simple: true }));
    } catch (err) {
      throw new Error(`${file} is not a readable SQLite database: ${(err as Error).message}`);
    }
    if (ok !== 'ok') throw new Error(`${file} is damaged (integrity check: ${ok})`);
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
      .get();
    if (table === undefined) throw new Error(`${file} is a SQLite database but not a Weir store`);
    const row = db.prepare('SELECT version FROM schema_version').get() as
      | { version: number }
      | undefined;
    const schema = row?.version ?? 0;
    if (schema > SCHEMA_VERSION)
      throw new Error(
        `${file} has schema version ${schema}, newer than this Weir understands (${SCHEMA_VERSION}): restore it with the release that wrote it`,
      );
    return { schema };
  } finally {
    db.close();
  }
}

/** Processes (by pid) that hold `file` open now, read from /proc (Linux; empty where /proc is not readable). */
export function processesHolding(file: string): number[] {
  const target = path.resolve(file);
  const out: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) {
          out.push(Number(pid));
          break;
        }
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return out;
}

export interface RestoreResult {
  schema: number;
  /** Where the store that was replaced went (null: there was none). */
  previous: string | null;
}

/**
 * Put a backup in place of a store that nobody has open. The store it replaces is kept beside it (with its
 * WAL, so nothing committed is lost), the backup is checked first and copied, never moved, and the new file
 * appears whole by a rename.
 */
export function restoreStore(
  from: string,
  to: string,
  o: { now?: Date; holders?: (f: string) => number[] } = {},
): RestoreResult {
  const { schema } = checkStoreFile(from);
  if (path.resolve(from) === path.resolve(to)) throw new Error('restore from a store onto itself');
  const holders = (o.holders ?? processesHolding)(to);
  if (holders.length > 0)
    throw new Error(
      `${to} is open in process ${holders.join(', ')}: stop it first (systemctl stop weir-serve weir-gateway), then restore`,
    );
  let previous: string | null = null;
  if (existsSync(to)) {
    previous = `${to}.before-restore-${(o.now ?? new Date()).toISOString().replace(/[:.]/g, '-')}`;
    for (const ext of ['', '-wal', '-shm'])
      if (existsSync(`${to}${ext}`)) renameSync(`${to}${ext}`, `${previous}${ext}`);
  }
  const tmp = `${to}.restoring`;
  rmSync(tmp, { force: true });
  copyFileSync(from, tmp, constants.COPYFILE_EXCL);
  chmodSync(tmp, 0o600);
  renameSync(tmp, to);
  return { schema, previous };
}

/**
 * After root worked on a service's store (a restore, a migration): the store's files in its folder go back to
 * the folder's owner (weir in /var/lib/weir), or the service could not open its own store any more.
 */
export function giveToFolderOwner(store: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const dir = path.dirname(path.resolve(store));
  const base = path.basename(store);
  const { uid, gid } = statSync(dir);
  const changed: string[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(base)) continue;
    const p = path.join(dir, f);
    const st = statSync(p);
    if (st.uid === uid && st.gid === gid) continue;
    chownSync(p, uid, gid);
    changed.push(f);
  }
  return changed;
}
