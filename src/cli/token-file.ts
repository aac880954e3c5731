import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where `weir login` keeps the session token of one store for this OS account: a per-user runtime folder
 * (0700), one file per store (0600). Only the token's hash is in the store, so the store alone opens nothing.
 */
export function defaultTokenFile(dbPath: string): string {
  const dir =
    process.env.WEIR_TOKEN_DIR ??
    (process.env.XDG_RUNTIME_DIR
      ? path.join(process.env.XDG_RUNTIME_DIR, 'weir')
      : path.join(homedir(), '.config', 'weir'));
  let real: string;
  try {
    real = realpathSync(dbPath);
  } catch {
    real = path.resolve(dbPath);
  }
  return path.join(dir, `token-${createHash('sha256').update(real).digest('hex').slice(0, 16)}`);
}

export function saveToken(file: string, token: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${token}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** The token, or null when there is no file. A token others could read, or not ours, is refused: it may be stolen. */
export function loadToken(file: string): string | null {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!st.isFile()) throw new Error(`token file ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0)
    throw new Error(
      `token file ${file} can be read by others (mode ${(st.mode & 0o777).toString(8)}): log in again (weir login)`,
    );
  if (typeof process.getuid === 'function' && st.uid !== process.getuid())
    throw new Error(`token file ${file} belongs to another account`);
  const token = readFileSync(file, 'utf8').trim();
  if (!/^[A-Za-z0-9_-]{20,200}$/.test(token))
    throw new Error(`token file ${file} holds no Weir session token`);
  return token;
}

export function removeToken(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
