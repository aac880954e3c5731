import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { DEFAULT_SETTINGS } from '../../settings/model.js';

export interface EventLogOptions {
  /** JSON lines go here; null writes to standard output. */
  file: string | null;
  /** Rotate to FILE.1 beyond this size (the log never holds more than twice this). */
  maxBytes?: number;
  /** Lines per second per event kind and client before lines are counted instead of written. */
  perKeyPerSecond?: number;
  now?: () => number;
}

/**
 * The gateway's event log. Logging must never stop the gateway: a full disk, a closed pipe or a flood of
 * refusals costs log lines, never the process. Lines are written synchronously (no unbounded queue), limited
 * per event kind and client, and what was suppressed or lost is itself logged once it can be.
 */
export class EventLog {
  private fd: number | null = null;
  private size = 0;
  private failedAt = 0;
  private lastError = '';
  private lost = 0;
  private readonly buckets = new Map<string, { second: number; n: number; suppressed: number }>();
  private readonly maxBytes: number;
  private readonly perKey: number;
  private readonly now: () => number;

  constructor(private readonly opts: EventLogOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_SETTINGS.gateway.log_max_mb * 1024 * 1024;
    this.perKey = opts.perKeyPerSecond ?? DEFAULT_SETTINGS.gateway.log_lines_per_s;
    this.now = opts.now ?? Date.now;
  }

  /** Log one event; `key` (event kind and client) is what the rate limit counts by. */
  write(event: Record<string, unknown>): void {
    const now = this.now();
    const key = `${String(event.event)}|${String(event.client ?? '')}`;
    const second = Math.floor(now / 1000);
    let b = this.buckets.get(key);
    if (b === undefined || b.second !== second) {
      if (b !== undefined && b.suppressed > 0)
        this.emit({
          ts: new Date(now).toISOString(),
          event: 'log_suppressed',
          of: b.second,
          kind: event.event,
          client: event.client,
          lines: b.suppressed,
        });
      if (this.buckets.size > 10_000) this.buckets.clear();
      b = { second, n: 0, suppressed: 0 };
      this.buckets.set(key, b);
    }
    if (++b.n > this.perKey) {
      b.suppressed++;
      return;
    }
    this.emit({ ts: new Date(now).toISOString(), ...event });
  }

  /** Counts kept for the health record: lines lost to write errors, and the last error. */
  get health(): { lost: number; error: string | null } {
    return { lost: this.lost, error: this.lastError || null };
  }

  close(): void {
    if (this.fd !== null && this.opts.file !== null)
      try {
        closeSync(this.fd);
      } catch {
        /* already gone */
      }
    this.fd = null;
  }

  private emit(e: Record<string, unknown>): void {
    let line = `${JSON.stringify(e)}\n`;
    if (this.lost > 0 && this.open())
      line = `${JSON.stringify({ ts: e.ts, event: 'log_lost', lines: this.lost, error: this.lastError })}\n${line}`;
    if (!this.open()) {
      this.lost++;
      return;
    }
    try {
      writeSync(this.fd!, line);
      this.size += Buffer.byteLength(line);
      this.lost = 0;
      if (this.opts.file !== null && this.size > this.maxBytes) this.rotate();
    } catch (err) {
      this.fail(err as Error);
      this.lost++;
    }
  }

  private open(): boolean {
    if (this.fd !== null) return true;
    // After a failure, try again at most every 5 s (a full disk is not retried per line).
    if (this.failedAt && this.now() - this.failedAt < 5000) return false;
    try {
      if (this.opts.file === null) this.fd = 1;
      else {
        this.fd = openSync(this.opts.file, 'a', 0o640);
        this.size = fstatSync(this.fd).size;
      }
      this.failedAt = 0;
      return true;
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
  }

  private fail(err: Error): void {
    this.lastError = err.message;
    this.failedAt = this.now();
    if (this.opts.file !== null) this.close();
    this.fd = null;
  }

  private rotate(): void {
    this.close();
    try {
      renameSync(this.opts.file!, `${this.opts.file!}.1`);
    } catch (err) {
      this.fail(err as Error);
    }
    this.size = 0;
  }
}
