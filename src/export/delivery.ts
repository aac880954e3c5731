import type { Db } from '../store/db.js';
import {
  lastQueuedSeq,
  queuedAfter,
  seqOfEvent,
  setSinkCursor,
  sinkCursor,
  claimSink,
  releaseSink,
  type SinkCursor,
} from '../store/export-store.js';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ExportEvent } from './event.js';
import { FatalExportError, type Link, type Transport } from './transports/transport.js';

export interface DeliveryOptions {
  /** Events per write. */
  batch?: number;
  /** How long a stream connection must stay healthy after a flushed write before its events count as delivered. */
  settleMs?: number;
  /**
   * Most events sent but not yet settled on a stream connection: what a broken connection may make us send
   * twice. Throughput is bounded by maxUnsettled per settleMs.
   */
  maxUnsettled?: number;
  /** How often an idle queue is looked at (other processes may add events). */
  pollMs?: number;
  /** Reconnect back-off bounds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Told about connection trouble (never holds credentials: destinations carry none). */
  log?: (msg: string) => void;
}

/**
 * Delivers the store's export queue to one destination, in order, one connection at a time.
 *
 * Why nothing is lost and nothing duplicated — and where that stops being true:
 * - Events are numbered in the store; the destination's cursor says how far it got, so a receiver that is
 *   down only makes events wait: they go out in order when it returns.
 * - `sent` advances once the kernel accepted a write on a connection that was up (recorded right after the
 *   write call, in the same step, when the kernel took the bytes at once). If Weir then dies (even kill -9),
 *   the kernel still transmits those bytes and closes the connection with a FIN: a restart resumes after
 *   `sent`. Only a kill landing between the write call and the store's commit of it makes a restart send
 *   that one batch again: at-least-once, identical copies, dropped by id (below). Recording
 *   before writing would turn that copy into a loss; a receiver without acknowledgements allows no better.
 * - `acked` advances once that connection stayed healthy for `settleMs` after the flush. When the connection
 *   breaks while Weir runs (a reset, or the receiver closing it), the receiver may have dropped what it had not
 *   yet read, so `sent` goes back to `acked` and that window is sent again: at-least-once, and the copies carry
 *   the same event id (syslog structured data `eventId`, CEF externalId, ECS event.id), by which a SIEM drops
 *   them. Plain syslog has no application acknowledgement, so exactly-once at the receiver is that check by id.
 *   At most `maxUnsettled` events are ever in that window, which bounds the copies.
 * - The losses left: Weir killed while the receiver also loses the bytes it had not read; and a receiver that
 *   stops reading but keeps the connection open longer than the settle time, then closes it with data unread
 *   (its reset comes too late to roll back). A protocol with application acknowledgements (RELP) closes both.
 * - UDP has no acknowledgement at all: sent is all that is known. Files are synced before the cursor moves
 *   and a restart resumes after the last line the file holds.
 */
export class Delivery {
  private cursor: SinkCursor;
  private link: Link | null = null;
  private inflight: Array<{ seq: number; at: number }> = [];
  private stopped = false;
  private running: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private backoff: number;
  /** Set when the destination cannot be used at all (an unverified TLS receiver). */
  fatal: Error | null = null;
  lastError: string | null = null;
  delivered = 0;
  private readonly owner: string;
  private leaseAt = 0;
  /** Whether a connection was tried yet (a drain with nothing queued still checks the receiver). */
  private tried = false;
  private readonly o: Required<Omit<DeliveryOptions, 'log'>> & { log: (m: string) => void };

  constructor(
    private readonly db: Db,
    readonly name: string,
    private readonly transport: Transport,
    private readonly render: (e: ExportEvent) => string,
    opts: DeliveryOptions = {},
  ) {
    this.o = {
      batch: opts.batch ?? 500,
      settleMs: opts.settleMs ?? 250,
      maxUnsettled: opts.maxUnsettled ?? 10_000,
      pollMs: opts.pollMs ?? 500,
      minBackoffMs: opts.minBackoffMs ?? 200,
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      log: opts.log ?? ((m) => process.stderr.write(`weir: export: ${m}\n`)),
    };
    if (!Number.isInteger(this.o.batch) || this.o.batch < 1)
      throw new Error('export batch must be a whole number of events, at least 1');
    this.backoff = this.o.minBackoffMs;
    this.cursor = sinkCursor(db, name);
    this.owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  /** Take over where the last holder of this destination stopped (read once the lease is ours). */
  private resume(): void {
    this.cursor = sinkCursor(this.db, this.name);
    // A file says itself how far it got (the cursor may lag it by the batch a crash interrupted).
    const last = this.transport.lastWrittenId?.() ?? null;
    if (last !== null) {
      const seq = seqOfEvent(this.db, last);
      if (seq !== null && seq > this.cursor.sent) this.cursor = { sent: seq, acked: seq };
    }
    // A restart resumes after what the kernel accepted (see above); unsettled then means settled.
    if (this.cursor.acked < this.cursor.sent) this.cursor.acked = this.cursor.sent;
    this.save();
  }

  /** Wait until this process holds the destination's lease (another Weir may be delivering to it). */
  private async claim(): Promise<boolean> {
    let told = false;
    while (!this.stopped) {
      const holder = claimSink(this.db, this.name, this.owner, LEASE_SECONDS, ownerAlive);
      if (holder === null) {
        this.leaseAt = Date.now();
        if (told) this.o.log(`${this.transport.label}: now delivering (the other process stopped)`);
        return true;
      }
      if (!told)
        this.o.log(
          `${this.transport.label}: another Weir process (${holder}) delivers to it; waiting until it stops, so nothing is sent twice`,
        );
      told = true;
      await this.idle(1000);
    }
    return false;
  }

  get acked(): number {
    return this.cursor.acked;
  }

  get pending(): number {
    return lastQueuedSeq(this.db) - this.cursor.acked;
  }

  start(): void {
    this.running ??= this.loop().catch((err: Error) => {
      this.fatal = err;
      this.o.log(`${this.transport.label}: stopped: ${err.message}`);
    });
  }

  /** New events are queued: look now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Wait until every queued event is delivered, the destination failed for good, or the time is up. */
  async drain(timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    this.start();
    this.wake();
    while (Date.now() < until && this.fatal === null && (!this.tried || this.pending > 0))
      await sleep(Math.min(50, until - Date.now()));
    return this.pending;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    await this.link?.close();
    this.link = null;
    releaseSink(this.db, this.name, this.owner);
  }

  private save(): void {
    setSinkCursor(this.db, this.name, this.cursor, this.lastError);
  }

  private async idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = null;
  }

  private async loop(): Promise<void> {
    if (!(await this.claim())) return;
    this.resume();
    while (!this.stopped) {
      if (Date.now() - this.leaseAt > (LEASE_SECONDS * 1000) / 3) {
        // Renew; losing it (this process stalled past the lease) means another took over: stop sending.
        if (claimSink(this.db, this.name, this.owner, LEASE_SECONDS, ownerAlive) !== null) {
          this.o.log(`${this.transport.label}: lease lost to another process; pausing`);
          await this.link?.close();
          this.link = null;
          this.inflight = [];
          if (!(await this.claim())) return;
          this.resume();
        }
        this.leaseAt = Date.now();
      }
      if (this.link === null) {
        try {
          this.link = await this.transport.connect().finally(() => (this.tried = true));
          if (this.lastError !== null) this.o.log(`${this.transport.label}: connected again`);
          this.lastError = null;
          this.backoff = this.o.minBackoffMs;
        } catch (err) {
          if (err instanceof FatalExportError) {
            this.lastError = err.message;
            this.save();
            throw err;
          }
          const msg = `cannot reach ${this.transport.label}: ${(err as Error).message}; events wait in the store`;
          if (msg !== this.lastError) this.o.log(msg);
          this.lastError = msg;
          this.save();
          await this.idle(this.backoff);
          this.backoff = Math.min(this.o.maxBackoffMs, this.backoff * 2);
          continue;
        }
      }
      const link = this.link;
      if (link.broken !== null) {
        this.lastError = `${this.transport.label}: connection lost (${link.broken})`;
        if (this.cursor.sent > this.cursor.acked)
          this.o.log(
            `${this.lastError}; resending ${this.cursor.sent - this.cursor.acked} events not yet settled`,
          );
        this.cursor.sent = this.cursor.acked;
        this.inflight = [];
        this.save();
        await link.close();
        this.link = null;
        continue;
      }
      this.settle();
      const room = this.transport.settles
        ? this.o.maxUnsettled - (this.cursor.sent - this.cursor.acked)
        : this.o.batch;
      if (room <= 0) {
        await this.idle(this.untilSettled());
        continue;
      }
      const batch = queuedAfter(this.db, this.cursor.sent, Math.min(this.o.batch, room));
      if (batch.length === 0) {
        await this.idle(this.inflight.length > 0 ? this.untilSettled() : this.o.pollMs);
        continue;
      }
      const chunks = batch.map((q) =>
        this.transport.frame(this.render(JSON.parse(q.doc) as ExportEvent)),
      );
      const last = batch.at(-1)!.seq;
      try {
        await link.write(chunks, () => {
          this.cursor.sent = last;
          if (this.transport.settles) this.inflight.push({ seq: last, at: Date.now() });
          else {
            this.delivered += last - this.cursor.acked;
            this.cursor.acked = last;
          }
          this.save();
        });
      } catch {
        continue; // the link is broken now; the top of the loop rolls back and reconnects
      }
    }
  }

  /** Milliseconds until the oldest unsettled write settles. */
  private untilSettled(): number {
    const first = this.inflight[0];
    return first === undefined ? 0 : Math.max(1, first.at + this.o.settleMs - Date.now());
  }

  /** Events whose connection stayed up for the settle time after their flush are delivered. */
  private settle(): void {
    const now = Date.now();
    let moved = false;
    while (this.inflight.length > 0 && now - this.inflight[0]!.at >= this.o.settleMs) {
      const seq = this.inflight.shift()!.seq;
      this.delivered += seq - this.cursor.acked;
      this.cursor.acked = seq;
      moved = true;
    }
    if (moved) this.save();
  }
}

/** Seconds a destination's lease lasts without renewal. */
const LEASE_SECONDS = 15;

/** Whether a lease holder may still be running: a process of this host is checked; another host's is trusted. */
function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== os.hostname() || pid === undefined) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
