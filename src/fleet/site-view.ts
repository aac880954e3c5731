/**
 * The manager's sites as the dashboard shows them, read from manager.db: health by how long ago the manager
 * last heard from each site, lag, the state versions each applied against the manager's latest (and those it could
 * not put into force, with why), and what each enforces per zone (from its newest health record). Also the per-zone modes a site reports.
 */
import type { CaptureStatus, LiveCounters } from '../capture/live.js';
import type { AppliedPolicy } from '../enforce/state.js';
import { parsePolicy } from '../policy/load.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';
import type { FleetDb } from './fleet-db.js';
import { STATE_KINDS, type StateKind } from './subjects.js';

/**
 * A site is stale after missing a few health beats, cut off after missing many (settings fleet.*). The health
 * period (default the settings' default) ages a site's capture record: see CAPTURE_STALE_BEATS.
 */
export type HealthThresholds = Pick<Settings['fleet'], 'stale_after_s' | 'cut_off_after_s'> &
  Partial<Pick<Settings['fleet'], 'health_every_s'>>;
export const STALE_AFTER_S = DEFAULT_SETTINGS.fleet.stale_after_s;
export const CUT_OFF_AFTER_S = DEFAULT_SETTINGS.fleet.cut_off_after_s;

export type SiteHealth = 'ok' | 'stale' | 'cut off';

export interface SiteView {
  name: string;
  health: SiteHealth;
  /** When the manager last received anything from the site (ms). */
  lastSync: number;
  /**
   * Seconds since the site's newest record was made, as of now: how long it waited on the site (the site's clock)
   * plus the time since the hub stored it (the manager's); from a site that stamps no send time, the manager's
   * clock against the site's.
   */
  lagSeconds: number;
  /** Records waiting in the site's outbox when it last reported (null: no health record yet). */
  backlog: number | null;
  records: number;
  /**
   * The manager's intake of the site: records waiting in the manager's stream (held back by its rate, or not
   * yet taken), how often its rate held it back, and the kinds at the stream's bound (the hub refuses more of
   * them; they wait in the site's outbox). Null: not yet read by this manager.
   */
  intake: { held: number; throttled: number; atBound: string[] } | null;
  /** State versions the site reports applied (null: none yet, or not reported). */
  applied: Record<StateKind, number | null>;
  /**
   * Per kind, a newer version the site refused or could not put into force (what it runs instead is `applied`),
   * with the site's reason (review 13, L3). Empty: none, or not reported.
   */
  notInForce: Array<{ kind: StateKind; version: number; reason: string }>;
  enforcement: {
    loaded: boolean | null;
    gateway: string | null;
    blocked: number | null;
    zones: Array<{ name: string; mode: string }>;
    error?: string;
  } | null;
  /** The site's live capture: its program and counters (null: not capturing live, or not reported). */
  capture: SiteCapture | null;
}

/**
 * Running: the program reports its counters; stalled: it runs but reports nothing (the capture side says so);
 * stopped: it ended, and Weir did not ask (the interface went away, the program failed to start or died).
 */
export type CaptureState = 'running' | 'stalled' | 'stopped';

/** What a site node sends of its live capture in its health record (node-runtime.ts). */
export interface SiteCaptureRecord extends Omit<CaptureStatus, 'state' | 'reason'> {
  state: CaptureState;
  /** Why it stalled or stopped (null while running). */
  reason: string | null;
  /** When the site last heard from the capture (ms, site clock: shown, never compared with the manager's). */
  at: number;
}

/** A site's capture as the manager reads it: `at` null when not reported; stale when not heard of lately. */
export interface SiteCapture extends Omit<SiteCaptureRecord, 'at'> {
  at: number | null;
  /**
   * A capture said to run that the site has not heard from for more than CAPTURE_STALE_BEATS health periods
   * (or that carries no time): what it counted may no longer hold. A stopped capture is never stale: it is final.
   */
  stale: boolean;
}

/** Health periods without news of a running capture after which its record reads as stale. */
export const CAPTURE_STALE_BEATS = 3;
/** Longest reason kept from a site's record (the page shows it whole). */
const REASON_MAX = 300;

/** A capture status from src/capture (its `state` and `reason` when it has them) as a site's record. */
export function captureRecord(s: CaptureStatus, at: number): SiteCaptureRecord {
  const x = s as CaptureStatus & { state?: unknown; reason?: unknown };
  const state: CaptureState = x.state === 'stalled' || x.state === 'stopped' ? x.state : 'running';
  return {
    program: s.program,
    counters: s.counters,
    state,
    reason: state !== 'running' && typeof x.reason === 'string' ? x.reason : null,
    at,
  };
}

export interface FleetView {
  latest: Record<StateKind, number | null>;
  sites: SiteView[];
}

export function healthOf(
  lastSeenMs: number,
  nowMs: number,
  t: HealthThresholds = DEFAULT_SETTINGS.fleet,
): SiteHealth {
  const age = (nowMs - lastSeenMs) / 1000;
  // A cut-off bound below the stale one would skip 'stale': it never comes before it.
  const cutOff = Math.max(t.cut_off_after_s, t.stale_after_s);
  return age >= cutOff ? 'cut off' : age >= t.stale_after_s ? 'stale' : 'ok';
}

const none = (): Record<StateKind, number | null> =>
  Object.fromEntries(STATE_KINDS.map((k) => [k, null])) as Record<StateKind, number | null>;

/** A count or version: a non-negative safe integer, else null (a site's record is not trusted to be sane). */
const count = (v: unknown): number | null =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;

function countersOf(k: unknown): LiveCounters | null {
  if (k === null || typeof k !== 'object') return null;
  const n = k as Record<string, unknown>;
  const [captured, receivedByFilter, droppedByKernel, droppedByInterface] = [
    n.captured,
    n.receivedByFilter,
    n.droppedByKernel,
    n.droppedByInterface,
  ].map(count);
  return captured === null ||
    receivedByFilter === null ||
    droppedByKernel === null ||
    droppedByInterface === null
    ? null
    : { captured, receivedByFilter, droppedByKernel, droppedByInterface };
}

/**
 * When a site's newest health record was made (site clock) and when the manager received it (its own clock).
 * Staleness adds the capture's age on the site (the record's time less the capture's: one clock, so a skew
 * cancels) to the record's age at the manager (now less its receipt: the manager's clock alone). Time the record
 * spent in transit is not counted: it cannot be told without comparing the two clocks.
 */
interface HealthSeen {
  made: number;
  received: number;
}

/**
 * A site's capture as its health record says; an odd program or state reads as not reported, odd counters as
 * none, an odd time as none (then stale unless stopped). A record without a state (a node from before states)
 * reads as running.
 */
function captureOf(
  c: unknown,
  seen: HealthSeen,
  nowMs: number,
  healthEveryS: number,
): SiteCapture | null {
  if (c === null || typeof c !== 'object') return null;
  const o = c as Record<string, unknown>;
  if (o.program !== 'weir-capture' && o.program !== 'tcpdump') return null;
  const state = o.state === undefined ? 'running' : o.state;
  if (state !== 'running' && state !== 'stalled' && state !== 'stopped') return null;
  const at = count(o.at);
  const reason =
    state !== 'running' && typeof o.reason === 'string' && o.reason.length > 0
      ? o.reason.slice(0, REASON_MAX)
      : null;
  const age = at === null ? null : Math.max(0, seen.made - at) + Math.max(0, nowMs - seen.received);
  const stale =
    state !== 'stopped' && (age === null || age > CAPTURE_STALE_BEATS * healthEveryS * 1000);
  return { program: o.program, counters: countersOf(o.counters), state, reason, at, stale };
}

/** A site's `notInForce` list (node-runtime.ts): entries not of the expected shape are left out. */
function notInForceOf(v: unknown): SiteView['notInForce'] {
  if (!Array.isArray(v)) return [];
  const out: SiteView['notInForce'] = [];
  for (const x of v as unknown[]) {
    const o = (x ?? {}) as Record<string, unknown>;
    const version = count(o.version);
    if (!(STATE_KINDS as readonly unknown[]).includes(o.kind) || version === null) continue;
    const reason = typeof o.reason === 'string' ? o.reason.slice(0, REASON_MAX) : '';
    out.push({ kind: o.kind as StateKind, version, reason });
  }
  return out.slice(0, STATE_KINDS.length);
}

/** Health records come from sites: anything not of the expected shape reads as not reported. */
function enforcementOf(e: unknown): SiteView['enforcement'] {
  if (e === null || typeof e !== 'object') return null;
  const o = e as Record<string, unknown>;
  const zones = Array.isArray(o.zones)
    ? o.zones
        .filter(
          (z): z is { name: string; mode: string } =>
            typeof z === 'object' &&
            z !== null &&
            typeof (z as { name?: unknown }).name === 'string' &&
            typeof (z as { mode?: unknown }).mode === 'string',
        )
        .map((z) => ({ name: z.name, mode: z.mode }))
    : [];
  return {
    loaded: typeof o.loaded === 'boolean' ? o.loaded : null,
    gateway: typeof o.gateway === 'string' ? o.gateway : null,
    blocked: count(o.blocked),
    zones,
    ...(typeof o.error === 'string' ? { error: o.error } : {}),
  };
}

/**
 * A site's newest health record: newest by arrival (the rowid: fleet_records' `arrival`), not by stream sequence,
 * which restarts when the JetStream stream is recreated. One index search per site (fleet_records_arrival: site,
 * kind, then the rowid).
 */
export const NEWEST_HEALTH_SQL = `SELECT at, received FROM fleet_records WHERE site = ? AND kind = 'health'
  ORDER BY rowid DESC LIMIT 1`;

export function newestHealth(
  db: FleetDb,
  site: string,
  q = db.prepare(NEWEST_HEALTH_SQL),
): HealthSeen | null {
  const r = q.get(site) as { at: number; received: number } | undefined;
  return r === undefined ? null : { made: r.at, received: r.received };
}

export function readFleetView(
  db: FleetDb,
  nowMs: number,
  thresholds: HealthThresholds = DEFAULT_SETTINGS.fleet,
): FleetView {
  const latest = none();
  for (const r of db.prepare('SELECT kind, version FROM fleet_state').all() as Array<{
    kind: StateKind;
    version: number;
  }>)
    if (r.kind in latest) latest[r.kind] = r.version;
  const rows = db
    .prepare('SELECT site, last_seen, last_at, records, health FROM fleet_sites ORDER BY site')
    .all() as Array<{
    site: string;
    last_seen: number;
    last_at: number;
    records: number;
    health: string | null;
  }>;
  const intake = new Map(
    (
      db.prepare('SELECT site, held, throttled, at_bound FROM fleet_intake').all() as Array<{
        site: string;
        held: number;
        throttled: number;
        at_bound: string | null;
      }>
    ).map((r) => [
      r.site,
      {
        held: r.held,
        throttled: r.throttled,
        atBound: r.at_bound === null ? [] : r.at_bound.split(','),
      },
    ]),
  );
  const lags = new Map(
    (
      db.prepare('SELECT site, at, age, stored FROM fleet_lag').all() as Array<{
        site: string;
        at: number;
        age: number;
        stored: number;
      }>
    ).map((l) => [l.site, l]),
  );
  // Each site's newest health record in the ledger (ingest keeps it): its time on the site and its receipt.
  const newestOf = db.prepare(NEWEST_HEALTH_SQL);
  const newest = new Map(rows.map((r) => [r.site, newestHealth(db, r.site, newestOf)]));
  const sites = rows.map((r): SiteView => {
    let h: Record<string, unknown> = {};
    try {
      const v: unknown = r.health === null ? null : JSON.parse(r.health);
      if (v !== null && typeof v === 'object') h = v as Record<string, unknown>;
    } catch {
      // an unreadable health record reads as none
    }
    const applied = none();
    const a = h.applied;
    if (a !== null && typeof a === 'object')
      for (const k of STATE_KINDS) applied[k] = count((a as Record<string, unknown>)[k]);
    return {
      name: r.site,
      health: healthOf(r.last_seen, nowMs, thresholds),
      lastSync: r.last_seen,
      lagSeconds: lagOf(r, lags.get(r.site), nowMs),
      backlog: count(h.pending),
      records: r.records,
      intake: intake.get(r.site) ?? null,
      applied,
      notInForce: notInForceOf(h.notInForce),
      enforcement: enforcementOf(h.enforcement),
      capture: captureOf(
        h.capture,
        // Without its record in the ledger, the site's newest record and the manager's last news of it.
        newest.get(r.site) ?? { made: r.last_at, received: r.last_seen },
        nowMs,
        thresholds.health_every_s ?? DEFAULT_SETTINGS.fleet.health_every_s,
      ),
    };
  });
  return { latest, sites };
}

/**
 * Lag without trusting the site's clock against the manager's: the newest record's wait on the site when sent
 * (both times the site's) and its time since the hub stored it (both the manager's side). A site that stamps no
 * send time (older nodes), or whose stamped record is not its newest, is read as before.
 */
function lagOf(
  r: { last_at: number },
  l: { at: number; age: number; stored: number } | undefined,
  nowMs: number,
): number {
  const ms =
    l !== undefined && l.at === r.last_at
      ? l.age + Math.max(0, nowMs - l.stored)
      : nowMs - r.last_at;
  return Math.max(0, Math.round(ms / 1000));
}

/** Records of one kind a site (or every site: '*') sent, newest first, each with the site's name. */
export function siteRecords(
  db: FleetDb,
  site: string,
  kind: string,
  limit: number,
  offset: number,
): { items: Array<Record<string, unknown> & { site: string }>; total: number } {
  const [w, args] = site === '*' ? ['kind = ?', [kind]] : ['site = ? AND kind = ?', [site, kind]];
  const total = (
    db.prepare(`SELECT count(*) AS n FROM fleet_records WHERE ${w}`).get(...args) as { n: number }
  ).n;
  const rows = db
    .prepare(
      `SELECT site, body FROM fleet_records WHERE ${w} ORDER BY at DESC, id LIMIT ? OFFSET ?`,
    )
    .all(...args, limit, offset) as Array<{ site: string; body: string }>;
  const items = rows.map((r) => {
    let b: unknown = null;
    try {
      b = JSON.parse(r.body);
    } catch {
      // kept as an empty record
    }
    return { ...(b !== null && typeof b === 'object' ? b : {}), site: r.site };
  });
  return { items, total };
}

/** Zones and their modes in the policy a host applied (none when it was removed or does not parse). */
export function zoneModes(applied: AppliedPolicy | null): Array<{ name: string; mode: string }> {
  if (applied === null || applied.removedAt !== undefined) return [];
  const r = parsePolicy(applied.text, applied.source);
  return r.ok ? r.policy.zones.map((z) => ({ name: z.name, mode: z.mode })) : [];
}
