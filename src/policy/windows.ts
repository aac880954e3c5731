import { WEEKDAYS, type TimeWindow } from './model.js';

/** Local weekday (0 = Monday) and minute of day of an instant in a time zone, cached per minute of time. */
export class LocalClock {
  private readonly fmt: Intl.DateTimeFormat;
  private minuteKey = NaN;
  private day = 0;
  private minute = 0;

  constructor(readonly timezone: string) {
    this.fmt = new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  }

  /** [weekday 0..6 from Monday, minute of day] at epoch seconds `ts`. */
  at(ts: number): [number, number] {
    const key = Math.floor(ts / 60);
    if (key !== this.minuteKey) {
      this.minuteKey = key;
      let wd = '',
        h = 0,
        m = 0;
      for (const p of this.fmt.formatToParts(new Date(key * 60000))) {
        if (p.type === 'weekday') wd = p.value.toLowerCase();
        else if (p.type === 'hour') h = Number(p.value);
        else if (p.type === 'minute') m = Number(p.value);
      }
      this.day = WEEKDAYS.indexOf(wd.slice(0, 3) as (typeof WEEKDAYS)[number]);
      this.minute = h * 60 + m;
    }
    return [this.day, this.minute];
  }
}

/**
 * Whether an instant falls in a window. A window across midnight (22:00–02:00) belongs to the day it starts:
 * "sat 22:00–02:00" covers Saturday night into Sunday morning.
 */
export function inWindow(w: TimeWindow, mask: number, day: number, minute: number): boolean {
  if (w.from < w.to) return (mask & (1 << day)) !== 0 && minute >= w.from && minute < w.to;
  if (minute >= w.from) return (mask & (1 << day)) !== 0;
  return minute < w.to && (mask & (1 << (day + 6) % 7)) !== 0;
}

/** The window's days as a bit mask (bit 0 = Monday). */
export function dayMask(w: TimeWindow): number {
  return w.days.reduce((m, d) => m | (1 << WEEKDAYS.indexOf(d)), 0);
}

/** Minutes after midnight as HH:MM. */
export function hhmm(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
