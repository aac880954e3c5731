import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Db } from './db.js';

/**
 * The audit log's key and its anchored head. The key is kept outside the database (a file next to it by
 * default, or wherever WEIR_AUDIT_KEY points), so whoever holds only the database cannot re-sign a rewritten
 * history; the head file records where the log ended, so cutting or rolling back the database shows.
 */
export interface AuditKey {
  id: string;
  secret: Buffer;
  /** Where the key file is; null for an in-memory store (ephemeral key, no head file). */
  path: string | null;
}

export interface AuditHead {
  seq: number;
  hash: string;
  at: string;
  keyId: string;
  mac: string;
  /**
   * The first keyed entry: an entry from here on without a MAC was stripped of it, never "from before the key".
   * Absent in heads written before it was recorded (then the anchored entry itself, which was keyed, bounds it).
   */
  keyedFrom?: number;
}

export class AuditKeyProblem extends Error {}

const memoryKeys = new WeakMap<Db, AuditKey>();
const cache = new WeakMap<Db, AuditKey>();

export function auditKeyPath(db: Db): string | null {
  if (process.env.WEIR_AUDIT_KEY) return path.resolve(process.env.WEIR_AUDIT_KEY);
  if (db.memory || db.name === '') return null;
  return `${path.resolve(db.name)}.audit-key`;
}

/** The head file sits next to the key (it is checked with it), named after the store it anchors. */
export function auditHeadPath(db: Db, key: AuditKey | null): string | null {
  const keyPath = key === null ? auditKeyPath(db) : key.path;
  if (keyPath === null || db.memory) return null;
  return path.join(path.dirname(keyPath), `${path.basename(db.name)}.audit-head`);
}

const keyIdOf = (secret: Buffer): string =>
  createHash('sha256').update(secret).digest('hex').slice(0, 16);
const hmac = (k: AuditKey, text: string): string =>
  createHmac('sha256', k.secret).update(text).digest('hex');

export function entryMac(k: AuditKey, keyId: string, hash: string): string {
  return hmac(k, `weir-audit/1|${keyId}|${hash}`);
}

export function macMatches(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex'),
    y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function readKey(file: string): AuditKey | null {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!st.isFile()) throw new AuditKeyProblem(`audit key ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0)
    throw new AuditKeyProblem(
      `audit key ${file} can be read by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
    );
  const hex = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new AuditKeyProblem(`audit key ${file} is not a Weir audit key (64 hex digits)`);
  const secret = Buffer.from(hex, 'hex');
  return { id: keyIdOf(secret), secret, path: file };
}

/** Create a key file 0600 (its folder 0700 when Weir makes it); if another process won the race, use theirs. */
function createKey(file: string): AuditKey {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKey(file)!;
    throw err;
  }
  try {
    writeSync(fd, `${secret.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { id: keyIdOf(secret), secret, path: file };
}

export function hasKeyedEntries(db: Db): boolean {
  return db.prepare('SELECT 1 FROM audit_log WHERE mac IS NOT NULL LIMIT 1').get() !== undefined;
}

/**
 * The key to append with: read it, or create it on a store that has no keyed entry yet. A keyed store whose
 * key is gone is refused — a new key would silently make the old entries unverifiable.
 */
export function auditKeyForAppend(db: Db): AuditKey {
  const file = auditKeyPath(db);
  const cached = cache.get(db);
  if (cached !== undefined && cached.path === file) return cached;
  let k: AuditKey;
  if (file === null) {
    const secret = randomBytes(32);
    k = memoryKeys.get(db) ?? { id: keyIdOf(secret), secret, path: null };
    memoryKeys.set(db, k);
  } else {
    const found = readKey(file);
    if (found === null && hasKeyedEntries(db)) {
      throw new AuditKeyProblem(
        `the audit log of this store is keyed, but its key ${file} is missing: restore the key file (or set WEIR_AUDIT_KEY); ` +
          'Weir does not start a new key silently — an admin can with `weir policy audit --new-key --reason TEXT`',
      );
    }
    k = found ?? createKey(file);
  }
  cache.set(db, k);
  return k;
}

/** The key to verify with, never created; null when there is none. */
export function auditKeyForVerify(db: Db): AuditKey | null {
  const file = auditKeyPath(db);
  if (file === null) return memoryKeys.get(db) ?? null;
  return readKey(file);
}

/** Replace a lost key by a new one (an admin's explicit act; the caller records it in the log). */
export function newAuditKey(db: Db): AuditKey {
  const file = auditKeyPath(db);
  if (file === null) throw new AuditKeyProblem('an in-memory store has no key file');
  if (readKey(file) !== null)
    throw new AuditKeyProblem(`audit key ${file} exists; Weir does not replace a working key`);
  const k = createKey(file);
  cache.set(db, k);
  return k;
}

const headText = (h: Omit<AuditHead, 'mac'>): string =>
  h.keyedFrom === undefined
    ? `weir-audit-head/1|${h.seq}|${h.hash}|${h.at}|${h.keyId}`
    : `weir-audit-head/2|${h.seq}|${h.hash}|${h.at}|${h.keyId}|${h.keyedFrom}`;

export function readHead(file: string): AuditHead | 'missing' | 'unreadable' {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  try {
    const h = JSON.parse(raw) as Record<string, unknown>;
    if (
      typeof h.seq !== 'number' ||
      typeof h.hash !== 'string' ||
      typeof h.at !== 'string' ||
      typeof h.key_id !== 'string' ||
      typeof h.mac !== 'string' ||
      (h.keyed_from !== undefined && typeof h.keyed_from !== 'number')
    )
      return 'unreadable';
    const head: AuditHead = { seq: h.seq, hash: h.hash, at: h.at, keyId: h.key_id, mac: h.mac };
    if (typeof h.keyed_from === 'number') head.keyedFrom = h.keyed_from;
    return head;
  } catch {
    return 'unreadable';
  }
}

export function headSigned(k: AuditKey, h: AuditHead): boolean {
  return h.keyId === k.id && macMatches(h.mac, hmac(k, headText(h)));
}

/** Write the head atomically (temp file, fsync, rename): a crash leaves the old head or the new one. */
export function writeHead(
  file: string,
  k: AuditKey,
  seq: number,
  hash: string,
  keyedFrom: number,
): void {
  const at = new Date().toISOString();
  const mac = hmac(k, headText({ seq, hash, at, keyId: k.id, keyedFrom }));
  const body = `${JSON.stringify({ seq, hash, at, key_id: k.id, keyed_from: keyedFrom, mac })}\n`;
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}
