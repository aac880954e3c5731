import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the enforcement host runs, kept in a runtime directory (default /run/weir) beside the kernel ruleset it
 * describes: the policy `enforce apply` loaded, and the gateway's health record. Both vanish with a reboot, like
 * the ruleset. Written atomically (temp file + rename) so a reader never sees half a record.
 */
export const DEFAULT_STATE_DIR = process.env.WEIR_STATE_DIR ?? '/run/weir';

/** The policy `enforce apply` loaded into the kernel; the gateway runs the same one. */
export interface AppliedPolicy {
  sha: string;
  source: string;
  text: string;
  appliedAt: string;
  actor: string;
  family: string;
  /** Network namespace the ruleset was loaded in (labs), so a reader on this host can look at the same kernel. */
  netns?: string;
  gatewayIp: string | null;
  /** Applied in sensor-only stealth mode on this bridge. */
  stealth?: { bridge: string };
  /** Digest of the ruleset as loaded (nft.ts kernelDigest gives the kernel's current one to compare). */
  rulesetDigest?: string;
  /** Time windows' timed rules cover their zones' UTC offsets until then (a later DST change needs a re-apply). */
  windowsValidUntil?: string;
  /** The kernel's count of connections dropped on a full conntrack table when this was applied. */
  conntrackDroppedAtApply?: number;
  /** Which run of that count it was (boot id and namespace): another run's count is no baseline. */
  conntrackEpochAtApply?: string;
  /** What the ruleset refused (or would) because it cannot judge it, as compiled by the build that applied it. */
  refused?: string[];
  /** Set by `enforce remove`: nothing of Weir's is loaded since. */
  removedAt?: string;
  removedBy?: string;
}

export interface GatewayTargetState {
  server: string;
  port: number;
  protocol: string;
  listenPort: number;
}

/** The gateway's own account of itself, rewritten on every heartbeat. */
export interface GatewayHealth {
  pid: number;
  startedAt: string;
  /** Last heartbeat: the kernel steers to the gateway only while heartbeats renew its elements. */
  beatAt: string;
  listen: string;
  policySha: string;
  policySource: string;
  targets: GatewayTargetState[];
  /** Whether the last heartbeat renewed the kernel steering; why not, if not. */
  steering: { ok: boolean; error: string | null };
  /** Policy reloads (SIGHUP) handled so far, and why the last one failed (null: it took the new policy). */
  reloads: number;
  reloadError: string | null;
  stats: Record<string, number>;
  /** Fail-open windows still open (per client and server). */
  failOpenOpen: number;
  log: { lost: number; error: string | null };
  /**
   * Set while the test switch `--inject-fault` (WEIR_TEST_FAULTS=1) makes inspection fail on every PDU: the
   * gateway runs and steers, and passes everything uninspected.
   */
  testFault?: string;
  /** Set when the gateway stopped on purpose (SIGTERM) or on a fault it could report. */
  stoppedAt?: string;
  stopReason?: string;
}

function writeAtomic(file: string, data: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o640 });
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export const appliedFile = (dir: string): string => path.join(dir, 'applied.json');
export const healthFile = (dir: string): string => path.join(dir, 'gateway.json');

export const readApplied = (dir: string): AppliedPolicy | null =>
  readJson<AppliedPolicy>(appliedFile(dir));
export const writeApplied = (dir: string, a: AppliedPolicy): void =>
  writeAtomic(appliedFile(dir), JSON.stringify(a));
export const readHealth = (dir: string): GatewayHealth | null =>
  readJson<GatewayHealth>(healthFile(dir));
export const writeHealth = (dir: string, h: GatewayHealth): void =>
  writeAtomic(healthFile(dir), JSON.stringify(h));

/** A heartbeat older than this means the kernel has stopped steering to the gateway (its elements expired). */
export const BEAT_STALE_MS = 1500;

export type GatewayState =
  | { state: 'none' }
  | { state: 'up'; health: GatewayHealth }
  | { state: 'down'; since: string; health: GatewayHealth };

/** Whether the gateway runs, from its health record and its process. */
export function gatewayState(dir: string, now = Date.now()): GatewayState {
  const h = readHealth(dir);
  if (h === null) return { state: 'none' };
  const alive = processAlive(h.pid);
  const fresh = now - Date.parse(h.beatAt) < BEAT_STALE_MS;
  if (alive && fresh && h.stoppedAt === undefined && h.steering.ok)
    return { state: 'up', health: h };
  // Steering lapses one element timeout after the last renewed heartbeat.
  return { state: 'down', since: h.stoppedAt ?? h.beatAt, health: h };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a gateway is down, in a few words: stopped or faulted (its own record), gone, or not renewing its leases. */
export function downReason(h: GatewayHealth): string {
  if (h.stopReason !== undefined) return h.stopReason;
  if (!processAlive(h.pid)) return 'process gone';
  return h.steering.ok
    ? 'heartbeats stopped (overloaded or hung)'
    : `steering not renewed: ${h.steering.error ?? 'unknown'}`;
}

/** The test switch, said where people look (null: off). */
export function testFaultNote(h: GatewayHealth): string | null {
  return h.testFault === undefined
    ? null
    : `TEST FAULT INJECTION ON (${h.testFault}): every PDU passes uninspected`;
}

/** One line for people: what the gateway does to plant traffic right now. */
export function describeGateway(s: GatewayState): string {
  if (s.state === 'none') return 'gateway: not running on this host (no health record)';
  const h = s.health;
  const targets = `${h.targets.length} steered server${h.targets.length === 1 ? '' : 's'}`;
  const fault = testFaultNote(h);
  if (s.state === 'up')
    return `gateway: up since ${h.startedAt} (pid ${h.pid}, policy ${h.policySha.slice(0, 12)}, ${targets})${fault ? `; ${fault}` : ''}`;
  return `gateway: DOWN since ${s.since} (${downReason(h)}); traffic to ${targets} passing uninspected, kernel rules still in force${fault ? `; ${fault}` : ''}`;
}

/** The gateway's state in a word for a site's health (the manager's sites page), and the test switch if on. */
export function gatewaySummary(s: GatewayState): string {
  const fault = s.state === 'none' ? null : testFaultNote(s.health);
  return fault === null ? s.state : `${s.state}, ${fault}`;
}

/** How long before the first offset change the timed rules do not cover status starts asking for a re-apply. */
const WINDOWS_NOTICE_MS = 30 * 86_400_000;

/** A sentence for status when the applied time windows near or pass the end of their compiled offsets. */
export function windowsNotice(a: AppliedPolicy | null, now = Date.now()): string | null {
  if (a === null || a.removedAt !== undefined || a.windowsValidUntil === undefined) return null;
  const end = Date.parse(a.windowsValidUntil);
  if (now < end - WINDOWS_NOTICE_MS) return null;
  return now < end
    ? `time windows: compiled for their zones' UTC offsets until ${a.windowsValidUntil}; re-apply the policy before then`
    : `time windows: a UTC offset change at ${a.windowsValidUntil} is not compiled in, so windowed groups open an hour off; re-apply the policy`;
}
