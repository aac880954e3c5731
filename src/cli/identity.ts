import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { openStore, type Db } from '../store/db.js';
import { userRoles } from '../store/change-store.js';
import { passwordHash, sessionOf } from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import { untrustedText } from '../store/untrusted-text.js';
import { tokenHash, verifyPassword } from '../server/passwords.js';
import { defaultTokenFile, loadToken } from './token-file.js';
import { passwordFromStdin, promptPassword } from './password-input.js';

/** Who is running a command that changes state: a person of the users table, proven, the same as on the dashboard. */
export interface Caller {
  name: string;
  roles: string[];
  via: 'token' | 'password' | 'bootstrap';
}

export interface IdentityOpts {
  as?: string;
  tokenFile?: string;
  passwordStdin?: boolean;
}

export class NotAuthorized extends Error {}

/** The options every state-changing command takes to say who runs it. */
export function withIdentity(cmd: Command, o: { passwordStdin?: boolean } = {}): Command {
  cmd
    .option(
      '--as <user>',
      'who you are: proven by your `weir login` session, or by --password-stdin',
    )
    .option(
      '--token-file <file>',
      'session token written by `weir login` (default: the one for this store)',
    );
  if (o.passwordStdin !== false)
    cmd.option('--password-stdin', 'prove --as with a password read from standard input');
  return cmd;
}

// Hash even for unknown users, so timing does not tell which names exist.
const NO_USER =
  'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** Check a password; a wrong one is audited and refused with the same words whether or not the user exists. */
export async function checkPassword(db: Db, user: string, password: string): Promise<Caller> {
  const stored = passwordHash(db, user);
  const ok = await verifyPassword(password, stored ?? NO_USER);
  if (!ok || stored === null) {
    // The name is a claim, not an identity (as on the dashboard): never the actor, escaped where it is kept.
    appendAudit(db, {
      actor: 'unauthenticated',
      action: 'login.failed',
      subject: 'cli',
      details: { claimedUser: untrustedText(user) },
    });
    throw new NotAuthorized('wrong user or password');
  }
  return { name: user, roles: userRoles(db, user) ?? [], via: 'password' };
}

/**
 * Prove who is calling: a password on stdin (with --as), the session token of `weir login`, or — at a
 * terminal — a password prompt for --as. A bare --as is a claim, not a proof, and is refused.
 */
export async function authenticate(db: Db, dbPath: string, o: IdentityOpts): Promise<Caller> {
  if (o.passwordStdin) {
    if (!o.as) throw new NotAuthorized('--password-stdin proves who --as names: give --as NAME');
    return checkPassword(db, o.as, passwordFromStdin());
  }
  const file = o.tokenFile ?? defaultTokenFile(dbPath);
  const token = loadToken(file);
  if (token === null && o.tokenFile !== undefined)
    throw new NotAuthorized(
      `no session token in ${file}: weir login --db ${dbPath} --user NAME --token-file ${file}`,
    );
  if (token !== null) {
    const session = sessionOf(db, tokenHash(token));
    const user = session?.name ?? null;
    if (session !== null && (o.as === undefined || o.as === session.name))
      return { name: session.name, roles: session.roles, via: 'token' };
    if (o.as !== undefined && process.stdin.isTTY)
      return checkPassword(db, o.as, await promptPassword(`password for ${o.as}: `));
    if (user === null)
      throw new NotAuthorized(
        `your session (${file}) has expired or was ended: weir login --db ${dbPath} --user NAME`,
      );
    throw new NotAuthorized(
      `the session in ${file} is ${user}'s, not ${o.as}'s: log in as ${o.as}, or leave out --as`,
    );
  }
  if (o.as !== undefined && process.stdin.isTTY)
    return checkPassword(db, o.as, await promptPassword(`password for ${o.as}: `));
  throw new NotAuthorized(
    `this changes the store, so it needs a logged-in person: weir login --db ${dbPath} --user NAME (or --as NAME --password-stdin)${o.as !== undefined ? `; --as ${o.as} alone proves nothing` : ''}`,
  );
}

export function requireRole(c: Caller, roles: readonly string[], what: string): void {
  if (!c.roles.some((r) => roles.includes(r)))
    throw new NotAuthorized(
      `${c.name} (${c.roles.join(', ') || 'no role'}) may not ${what}: that needs ${roles.join(' or ')}`,
    );
}

/** How a store comes to be, for commands that only read or add to one. */
export const STORE_HINT =
  '`weir discover FILE... --db PATH` builds one (or `weir learn FILE... --db PATH --create`)';

/**
 * Open an existing store (a typo must not create an empty one that nobody can log in to). `hint` says how a
 * store comes to be, for the commands that only read or curate one.
 */
export function openExistingStore(dbPath: string, hint = ''): Db {
  if (!existsSync(dbPath)) throw new Error(`no store at ${dbPath}${hint ? `: ${hint}` : ''}`);
  return openStore(dbPath);
}

/** Open an existing store (STORE_HINT when there is none), read or curate it, close it whatever happens. */
export function inStore<T>(dbPath: string, fn: (db: Db) => T): T {
  const db = openExistingStore(dbPath, STORE_HINT);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Open the store, prove the caller and their role, run the change, close. */
export async function asCaller<T>(
  dbPath: string,
  o: IdentityOpts,
  roles: readonly string[] | null,
  what: string,
  fn: (db: Db, caller: Caller) => T | Promise<T>,
): Promise<T> {
  const db = openExistingStore(dbPath);
  try {
    const caller = await authenticate(db, dbPath, o);
    if (roles !== null) requireRole(caller, roles, what);
    return await fn(db, caller);
  } finally {
    db.close();
  }
}
