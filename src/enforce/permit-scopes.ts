import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { PermitFlow, PermitScope } from './backend.js';

export type { PermitScope };

export interface ScopedPermitRecord extends PermitScope {
  flow: PermitFlow;
  /** Epoch seconds at which it lapses. */
  until: number;
  grantedAt: number;
  /** Set when it was withdrawn early (a detection, a person): the gateway stops honouring it at once. */
  revokedAt?: number;
  revokeReason?: string;
}

const FILE = 'permits.json';
/** Expired and revoked records are kept this long (a playbook's undo may put a revoked permit back). */
const KEEP_S = 24 * 3600;

const same = (a: PermitFlow, b: PermitFlow): boolean =>
  a.client === b.client &&
  a.server === b.server &&
  a.transport === b.transport &&
  a.port === b.port;

export function readScopes(stateDir: string): ScopedPermitRecord[] {
  const f = path.join(stateDir, FILE);
  if (!existsSync(f)) return [];
  try {
    const v = JSON.parse(readFileSync(f, 'utf8')) as unknown;
    return Array.isArray(v) ? (v as ScopedPermitRecord[]) : [];
  } catch {
    return [];
  }
}

function writeScopes(stateDir: string, list: ScopedPermitRecord[], now: number): void {
  mkdirSync(stateDir, { recursive: true });
  const kept = list.filter((r) => Math.max(r.until, r.revokedAt ?? 0) + KEEP_S > now);
  const f = path.join(stateDir, FILE);
  const tmp = `${f}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(kept), { mode: 0o640 });
  renameSync(tmp, f);
}

/** How long a writer waits for another (the CLI, the server, the playbook runner may write at once). */
const LOCK_WAIT_MS = 5000;
/** A lock older than this was left by a process that died while holding it. */
const LOCK_STALE_MS = 30_000;

/**
 * Read-modify-write of the records under an exclusive lock file: a revocation lost to a concurrent grant would
 * leave the gateway honouring a permit that was withdrawn.
 */
function locked<T>(stateDir: string, change: () => T): T {
  mkdirSync(stateDir, { recursive: true });
  const lock = path.join(stateDir, `${FILE}.lock`);
  const start = Date.now();
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { force: true });
      } catch {
        /* released meanwhile */
      }
      if (Date.now() - start > LOCK_WAIT_MS)
        throw new Error(`${lock} is held by another writer; try again`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    return change();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Record a permit given (a later grant of the same flow replaces the earlier). */
export function addScope(stateDir: string, r: ScopedPermitRecord, now: number): void {
  locked(stateDir, () =>
    writeScopes(stateDir, [...readScopes(stateDir).filter((x) => !same(x.flow, r.flow)), r], now),
  );
}

/** Mark a permit withdrawn; returns its record (null: no scoped permit for this flow). */
export function revokeScope(
  stateDir: string,
  flow: PermitFlow,
  reason: string,
  now: number,
): ScopedPermitRecord | null {
  return locked(stateDir, () => {
    const list = readScopes(stateDir);
    const r = list.find((x) => same(x.flow, flow) && x.revokedAt === undefined);
    if (r === undefined) return null;
    r.revokedAt = now;
    r.revokeReason = reason;
    writeScopes(stateDir, list, now);
    return r;
  });
}

/** The latest record of a flow, live or not (an undo restores the scope it had). */
export function scopeOf(stateDir: string, flow: PermitFlow): ScopedPermitRecord | null {
  const mine = readScopes(stateDir).filter((x) => same(x.flow, flow));
  return mine.at(-1) ?? null;
}

/**
 * The gateway's view: the permit in force for a flow now, read again only when the file changed (a revocation
 * reaches the next request).
 */
export class ScopeReader {
  private stamp = '';
  private list: ScopedPermitRecord[] = [];

  constructor(
    private readonly stateDir: string,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  find(client: string, server: string, port: number): ScopedPermitRecord | null {
    this.refresh();
    const t = this.now();
    return (
      this.list.find(
        (r) =>
          r.flow.client === client &&
          r.flow.server === server &&
          r.flow.port === port &&
          r.flow.transport === 'tcp' &&
          r.revokedAt === undefined &&
          r.until > t,
      ) ?? null
    );
  }

  private refresh(): void {
    let s = '';
    try {
      const st = statSync(path.join(this.stateDir, FILE));
      s = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      s = 'none';
    }
    if (s === this.stamp) return;
    this.stamp = s;
    this.list = readScopes(this.stateDir);
  }
}
