import { dayMask } from '../policy/windows.js';
import type { TimeWindow } from '../policy/model.js';

// The kernel's `meta day`/`meta hour` read UTC and know nothing of daylight saving, so a window is compiled for
// each stretch of time its zone keeps one UTC offset, each bounded by `meta time`: the rules stay right across
// the next DST changes without anyone re-applying (review 12, L2).

const WEEK = 7 * 1440;
const DAY_MS = 86_400_000;
/** How far ahead offset changes are looked for: DST zones change twice a year. */
const HORIZON_DAYS = 3 * 366;
/** Offset changes compiled into the rules (two years of DST); the one after them ends their validity. */
export const TRANSITIONS_COMPILED = 4;

export type OffsetOf = (tz: string, at: Date) => number;

export interface UtcSpan {
  day: number;
  from: number;
  to: number;
}

/** One stretch of time with one UTC offset: [since, until) in ms since the epoch, null where open. */
export interface WindowPeriod {
  since: number | null;
  until: number | null;
  spans: UtcSpan[];
}

export interface WindowSchedule {
  periods: WindowPeriod[];
  /** The first offset change not compiled in (ms), null when none is due within the horizon. */
  validUntil: number | null;
}

/** A window's local days and hours as UTC [day, from, to) spans in minutes, split at UTC midnight. */
export function utcSpans(w: TimeWindow, offsetOf: OffsetOf, at = new Date()): UtcSpan[] {
  const off = Math.round(offsetOf(w.timezone, at) / 60);
  const mask = dayMask(w);
  const out: UtcSpan[] = [];
  for (let d = 0; d < 7; d++) {
    if ((mask & (1 << d)) === 0) continue;
    const len = w.to > w.from ? w.to - w.from : 1440 - w.from + w.to;
    let start = (((d * 1440 + w.from - off) % WEEK) + WEEK) % WEEK;
    let left = len;
    while (left > 0) {
      const day = Math.floor(start / 1440),
        inDay = start % 1440;
      const take = Math.min(left, 1440 - inDay);
      out.push({ day, from: inDay, to: inDay + take });
      left -= take;
      start = (start + take) % WEEK;
    }
  }
  return out;
}

/** The instants (ms) after `at` where the zone's offset changes, up to `max` of them within the horizon. */
export function offsetChanges(tz: string, offsetOf: OffsetOf, at: Date, max: number): number[] {
  const out: number[] = [];
  let t = at.getTime();
  let off = offsetOf(tz, at);
  const end = t + HORIZON_DAYS * DAY_MS;
  while (out.length < max && t < end) {
    const next = t + DAY_MS;
    const o = offsetOf(tz, new Date(next));
    if (o !== off) {
      // Changes happen at whole seconds: bisect the day down to the first second of the new offset.
      let lo = t,
        hi = next;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (offsetOf(tz, new Date(mid)) === off) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      off = o;
    }
    t = next;
  }
  return out;
}

/** A window's UTC spans for now and for each stretch after the next offset changes of its zone. */
export function windowSchedule(
  w: TimeWindow,
  offsetOf: OffsetOf,
  at = new Date(),
  transitions = TRANSITIONS_COMPILED,
): WindowSchedule {
  const changes = offsetChanges(w.timezone, offsetOf, at, transitions + 1);
  const used = changes.slice(0, transitions);
  const bounds = [null, ...used, null];
  const periods: WindowPeriod[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const since = bounds[i] ?? null;
    periods.push({
      since,
      until: bounds[i + 1] ?? null,
      spans: utcSpans(w, offsetOf, since === null ? at : new Date(since)),
    });
  }
  return { periods, validUntil: changes[transitions] ?? null };
}

/** Formatters are costly to build and a schedule asks a zone's offset about a thousand times. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Seconds east of UTC of a time zone at an instant (Intl, no tz database of our own). */
export function utcOffsetOf(timezone: string, at: Date): number {
  let f = formatters.get(timezone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  const parts = f.formatToParts(at);
  const v = (k: string): number => Number(parts.find((p) => p.type === k)!.value);
  const local = Date.UTC(v('year'), v('month') - 1, v('day'), v('hour'), v('minute'), v('second'));
  // Whole seconds: the instant's milliseconds are not in the parts.
  return Math.round((local - Math.floor(at.getTime() / 1000) * 1000) / 1000);
}

/** An instant as nft reads and lists `meta time` (nft runs with TZ=UTC). */
export function nftTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
