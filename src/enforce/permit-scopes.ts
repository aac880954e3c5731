import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { PermitFlow, PermitScope } from './backend.js';

export type { PermitScope };

/** Weir's own record of a permit it gave, written before the kernel lets the flow in. */
export interface PermitRecord {
  flow: PermitFlow;
  /** Epoch seconds at which it lapses. */
  until: number;
  grantedAt: number;
  /** Set when it was withdrawn early (a detection, a person): the gateway stops honouring it at once. */
  revokedAt?: number;
  revokeReason?: string;
}

export interface ScopedPermitRecord extends PermitScope, PermitRecord {}

const FILE = 'permits.json';
/**
 * Permits without a scope (`weir permit`, fleet permits without limits): only the kernel acts on them, so the
 * gateway never reads this file; the playbooks do, to know who holds a permit without listing the kernel.
 */
const PLAIN_FILE = 'permits-plain.json';
/** Expired and revoked records are kept this long (a playbook's undo may put a revoked permit back). */
const KEEP_S = 24 * 3600;

const same = (a: PermitFlow, b: PermitFlow): boolean =>
  a.client === b.client &&
  a.server === b.server &&
  a.transport === b.transport &&
  a.port === b.port;

export function readScopes(stateDir: string): ScopedPermitRecord[] {
  try {
    return readRecords(stateDir, FILE) as ScopedPermitRecord[];
  } catch {
    return [];
  }
}

/** A records file whose text is no list of permits (torn, edited by hand): not a disk fault. */
class Unparsable extends Error {}

/** The records of one file; throws when it exists but cannot be read (the playbooks then cannot tell). */
function readRecords(stateDir: string, file: string): PermitRecord[] {
  const f = path.join(stateDir, file);
  if (!existsSync(f)) return [];
  const text = readFileSync(f, 'utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Unparsable(`${f} cannot be parsed: ${(err as Error).message}`);
  }
  if (!Array.isArray(v)) throw new Unparsable(`${f} holds no list of permits`);
  return v as PermitRecord[];
}

/** What a change of the records did besides the change: a file it could not parse, set aside (the path). */
export interface RecordChange {
  setAside: string | null;
}

/**
 * The records a writer changes. A file that cannot be parsed is renamed aside whole and the change starts from
 * none: overwriting it with the new record alone would lose every other permit in it, all still live in the
 * kernel (the kernel listing and the file set aside keep them known). Other read errors throw.
 */
function readForChange(stateDir: string, file: string): { list: PermitRecord[] } & RecordChange {
  try {
    return { list: readRecords(stateDir, file), setAside: null };
  } catch (err) {
    if (!(err instanceof Unparsable)) throw err;
    const f = path.join(stateDir, file);
    const aside = `${f}.unreadable-${Date.now()}`;
    renameSync(f, aside);
    return { list: [], setAside: aside };
  }
}

function writeScopes(stateDir: string, list: PermitRecord[], now: number, file = FILE): void {
  mkdirSync(stateDir, { recursive: true });
  const kept = list.filter((r) => Math.max(r.until, r.revokedAt ?? 0) + KEEP_S > now);
  const f = path.join(stateDir, file);
  const tmp = `${f}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(kept), { mode: 0o640 });
    renameSync(tmp, f);
  } catch (err) {
    // A full folder leaves half a temporary file: it would only take more of the space.
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** How long a writer waits for another (the CLI, the server, the playbook runner may write at once). */
const LOCK_WAIT_MS = 5000;
/** A lock older than this was left by a process that died while holding it. */
const LOCK_STALE_MS = 30_000;

/**
 * Read-modify-write of the records under an exclusive lock file: a revocation lost to a concurrent grant would
 * leave the gateway honouring a permit that was withdrawn.
 */
function locked<T>(stateDir: string, change: () => T, file = FILE): T {
  mkdirSync(stateDir, { recursive: true });
  const lock = path.join(stateDir, `${file}.lock`);
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
export function addScope(stateDir: string, r: ScopedPermitRecord, now: number): RecordChange {
  return locked(stateDir, () => {
    const { list, setAside } = readForChange(stateDir, FILE);
    writeScopes(stateDir, [...list.filter((x) => !same(x.flow, r.flow)), r], now);
    return { setAside };
  });
}

/**
 * Mark a permit withdrawn; returns its record (null: no scoped permit for this flow). A file that cannot be parsed
 * throws and stays where it is: set aside, it would read as "no such record", and the undo could not find the
 * scope of what it puts back.
 */
export function revokeScope(
  stateDir: string,
  flow: PermitFlow,
  reason: string,
  now: number,
): ScopedPermitRecord | null {
  return locked(stateDir, () => {
    const list = readRecords(stateDir, FILE) as ScopedPermitRecord[];
    const r = list.find((x) => same(x.flow, flow) && x.revokedAt === undefined);
    if (r === undefined) return null;
    r.revokedAt = now;
    r.revokeReason = reason;
    writeScopes(stateDir, list, now);
    return r;
  });
}

/** Record a permit without a scope (a later grant of the same flow replaces the earlier). */
export function addPlain(stateDir: string, r: PermitRecord, now: number): RecordChange {
  return locked(
    stateDir,
    () => {
      const { list, setAside } = readForChange(stateDir, PLAIN_FILE);
      writeScopes(
        stateDir,
        [
          ...list.filter((x) => !same(x.flow, r.flow)),
          { flow: r.flow, until: r.until, grantedAt: r.grantedAt },
        ],
        now,
        PLAIN_FILE,
      );
      return { setAside };
    },
    PLAIN_FILE,
  );
}

/** Mark a permit without a scope withdrawn (false: none recorded for the flow; unparsable throws, as above). */
export function revokePlain(
  stateDir: string,
  flow: PermitFlow,
  reason: string,
  now: number,
): boolean {
  return locked(
    stateDir,
    () => {
      const list = readRecords(stateDir, PLAIN_FILE);
      const r = list.find((x) => same(x.flow, flow) && x.revokedAt === undefined);
      if (r === undefined) return false;
      r.revokedAt = now;
      r.revokeReason = reason;
      writeScopes(stateDir, list, now, PLAIN_FILE);
      return true;
    },
    PLAIN_FILE,
  );
}

/**
 * Every permit of both files in force now by the records (neither revoked nor lapsed), re-read only when a
 * file changed: a stat per file per look, no process. A file that cannot be read throws.
 */
export class PermitRecords {
  private stamp = '';
  private list: PermitRecord[] = [];

  constructor(private readonly stateDir: string) {}

  live(nowS: number): PermitRecord[] {
    const s = [FILE, PLAIN_FILE].map((f) => stampOf(path.join(this.stateDir, f))).join('/');
    if (s !== this.stamp) {
      this.list = [...readRecords(this.stateDir, FILE), ...readRecords(this.stateDir, PLAIN_FILE)];
      this.stamp = s;
    }
    return this.list.filter((r) => r.revokedAt === undefined && r.until > nowS);
  }
}

function stampOf(f: string): string {
  try {
    const st = statSync(f);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'none';
  }
}

/** Records files set aside because they could not be parsed (kept for a person to read; status names them). */
export function recordsSetAside(stateDir: string): string[] {
  try {
    return readdirSync(stateDir)
      .filter((f) => /^permits(-plain)?\.json\.unreadable-[0-9]+$/.test(f))
      .map((f) => path.join(stateDir, f));
  } catch {
    return [];
  }
}

/** The latest record of a flow, live or not (an undo restores the scope it had). */
export function scopeOf(stateDir: string, flow: PermitFlow): ScopedPermitRecord | null {
  const mine = readScopes(stateDir).filter((x) => same(x.flow, flow));
  return mine.at(-1) ?? null;
}

/** Whether the latest plain record of a flow is a revoked one (an undo that was not told the set asks this). */
export function plainRevoked(stateDir: string, flow: PermitFlow): boolean {
  try {
    const r = readRecords(stateDir, PLAIN_FILE)
      .filter((x) => same(x.flow, flow))
      .at(-1);
    return r?.revokedAt !== undefined;
  } catch {
    return false;
  }
}

/** One grant, as a key: a later grant of the same flow is another record with its own deadline. */
const grantKey = (r: ScopedPermitRecord): string =>
  `${r.flow.client}|${r.flow.server}|${r.flow.transport}|${r.flow.port}|${r.grantedAt}|${r.until}|${r.template}`;

/**
 * The gateway's view: the permit in force for a flow now, read again only when the file changed (a revocation
 * reaches the next request). A permit ends by the earlier of its wall-clock time and a deadline on the monotonic
 * clock, set when the reader first sees the grant to the time it has left — never more than it was granted for —
 * so stepping the host's clock back (an unauthenticated NTP answer) does not keep an expired permit's rights alive.
 */
export class ScopeReader {
  private stamp = '';
  private list: ScopedPermitRecord[] = [];
  /** Per grant: when it ends on the monotonic clock (seconds). */
  private readonly deadlines = new Map<string, number>();

  constructor(
    private readonly stateDir: string,
    private readonly now: () => number = () => Date.now() / 1000,
    private readonly monotonic: () => number = () => performance.now() / 1000,
  ) {}

  find(client: string, server: string, port: number): ScopedPermitRecord | null {
    this.refresh();
    const t = this.now();
    const m = this.monotonic();
    return (
      this.list.find(
        (r) =>
          r.flow.client === client &&
          r.flow.server === server &&
          r.flow.port === port &&
          r.flow.transport === 'tcp' &&
          r.revokedAt === undefined &&
          r.until > t &&
          this.deadlines.get(grantKey(r))! > m,
      ) ?? null
    );
  }

  private refresh(): void {
    const s = stampOf(path.join(this.stateDir, FILE));
    if (s === this.stamp) return;
    this.stamp = s;
    this.list = readScopes(this.stateDir);
    const t = this.now();
    const m = this.monotonic();
    const seen = new Set<string>();
    for (const r of this.list) {
      const k = grantKey(r);
      seen.add(k);
      if (!this.deadlines.has(k))
        this.deadlines.set(k, m + Math.min(r.until - t, r.until - r.grantedAt));
    }
    for (const k of this.deadlines.keys()) if (!seen.has(k)) this.deadlines.delete(k);
  }
}
