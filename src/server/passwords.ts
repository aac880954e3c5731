import { randomBytes, scrypt as scryptCb, timingSafeEqual, createHash } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  opts: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
/** OWASP's current guidance for scrypt: N=2^17, r=8, p=1 (128 MiB and about 0.3 s per hash here). */
const PARAMS = { N: 2 ** 17, r: 8, p: 1 };
const memoryOf = (N: number, r: number): number => 128 * N * r;
const MAXMEM = memoryOf(PARAMS.N, PARAMS.r) + 32 * 1024 * 1024;
/** Hashes run two at a time (256 MiB at most) and a few dozen wait; more is an attack on memory, refused. */
const PARALLEL = 2;
const WAITING = 64;

/** Too many password checks at once: the caller answers 503 and the client tries again. */
export class PasswordCheckBusy extends Error {
  constructor() {
    super('too many password checks at once; try again in a moment');
  }
}

let running = 0;
const waiting: Array<() => void> = [];

async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running < PARALLEL) running++;
  else if (waiting.length >= WAITING) throw new PasswordCheckBusy();
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--; // a waiter takes over the slot
  }
}

/** scrypt$N$r$p$salt$hash (base64): the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await inTurn(() => scrypt(password, salt, 32, { ...PARAMS, maxmem: MAXMEM }));
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Checked against when the user does not exist, at the current cost, so both cases take as long. */
export const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;

/** Parameters of a stored hash, if they are ones this server is willing to compute (never above today's cost). */
function paramsOf(
  stored: string,
): { N: number; r: number; p: number; salt: Buffer; hash: Buffer } | null {
  const [alg, n, r, p, salt, hash, ...rest] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash || rest.length) return null;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  if (
    ![N, R, P].every(Number.isSafeInteger) ||
    N < 2 ||
    (N & (N - 1)) !== 0 ||
    R < 1 ||
    P < 1 ||
    P > 4
  )
    return null;
  if (memoryOf(N, R) > memoryOf(PARAMS.N, PARAMS.r)) return null;
  const want = Buffer.from(hash, 'base64');
  return want.length >= 16 && want.length <= 64
    ? { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: want }
    : null;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const s = paramsOf(stored);
  if (s === null) return false;
  const got = await inTurn(() =>
    scrypt(password, s.salt, s.hash.length, { N: s.N, r: s.r, p: s.p, maxmem: MAXMEM }),
  );
  return timingSafeEqual(got, s.hash);
}

/** A hash made with weaker parameters than today's: re-hash it at the next successful login. */
export function needsRehash(stored: string): boolean {
  const [, n, r, p] = stored.split('$');
  return Number(n) !== PARAMS.N || Number(r) !== PARAMS.r || Number(p) !== PARAMS.p;
}

/** Session tokens are random; the store keeps only their hash, so a stolen database opens no session. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: tokenHash(token) };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
