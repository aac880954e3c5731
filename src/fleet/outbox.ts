/**
 * A site's store-and-forward queue to the manager. Every record is written to the site's own database first
 * (with an id made once, at that moment), then published to the hub's JetStream stream with that id as
 * Nats-Msg-Id; the cursor moves only past records JetStream acknowledged. So:
 * - the link down (or the hub down) only makes records wait, in order, on the site's disk;
 * - a record published but whose acknowledgement was lost (link cut, node killed) is published again with the
 *   same id: JetStream drops the copy within its duplicate window, and the manager inserts by id, so a copy
 *   that arrives after the window is still counted once. Nothing acknowledged is ever dropped from the outbox
 *   before its acknowledgement, so nothing is lost.
 */
import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from 'nats';
import type { FleetDb } from './fleet-db.js';
import { siteSubject, SITE_STREAM, type SiteKind } from './subjects.js';

export interface OutboxRecord {
  seq: number;
  id: string;
  kind: SiteKind;
  body: string;
  at: number;
}

export interface OutboxOptions {
  batch?: number;
  ackTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often an idle outbox looks for records other processes added (a CLI block at this site). */
  pollMs?: number;
  log?: (m: string) => void;
}

export class Outbox {
  private js: JetStreamClient | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private backoff: number;
  published = 0;
  lastError: string | null = null;
  private readonly o: Required<OutboxOptions>;

  constructor(
    private readonly db: FleetDb,
    readonly site: string,
    o: OutboxOptions = {},
  ) {
    this.o = {
      batch: o.batch ?? 256,
      ackTimeoutMs: o.ackTimeoutMs ?? 2000,
      minBackoffMs: o.minBackoffMs ?? 100,
      maxBackoffMs: o.maxBackoffMs ?? 2000,
      pollMs: o.pollMs ?? 100,
      log: o.log ?? ((m) => process.stderr.write(`weir: fleet: ${m}\n`)),
    };
    this.backoff = this.o.minBackoffMs;
    db.prepare('INSERT OR IGNORE INTO outbox_cursor (one, acked) VALUES (1, 0)').run();
  }

  /**
   * Keep a record for the manager; durable on return. A caller that names the id (made from what the record
   * is, so the same record always has the same id) may add it again: the copy is ignored here, by JetStream
   * and by the manager.
   */
  add(kind: SiteKind, body: unknown, at = Date.now(), fixedId?: string): string {
    const id = fixedId ?? `${this.site}:${randomUUID()}`;
    this.db
      .prepare('INSERT OR IGNORE INTO outbox (id, kind, body, at) VALUES (?, ?, ?, ?)')
      .run(id, kind, JSON.stringify(body), at);
    this.wakeUp?.();
    return id;
  }

  get acked(): number {
    return (this.db.prepare('SELECT acked FROM outbox_cursor').get() as { acked: number }).acked;
  }

  get pending(): number {
    return (
      this.db.prepare('SELECT count(*) AS n FROM outbox WHERE seq > ?').get(this.acked) as {
        n: number;
      }
    ).n;
  }

  /** Records not yet acknowledged, oldest first. */
  private next(): OutboxRecord[] {
    return this.db
      .prepare('SELECT seq, id, kind, body, at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(this.acked, this.o.batch) as OutboxRecord[];
  }

  start(js: JetStreamClient): void {
    this.js = js;
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const batch = this.next();
      if (batch.length === 0) {
        await this.idle(this.o.pollMs);
        continue;
      }
      try {
        await this.send(batch);
        this.backoff = this.o.minBackoffMs;
        this.lastError = null;
      } catch (e) {
        const msg = (e as Error).message;
        if (this.lastError !== msg) this.o.log(`outbox: ${msg}; ${this.pending} records wait`);
        this.lastError = msg;
        await this.idle(this.backoff);
        this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs);
      }
    }
  }

  /**
   * Publish a batch (pipelined, in order) and move the cursor past the longest acknowledged prefix. A
   * failure in the middle leaves the rest for the next try, with the same ids.
   */
  private async send(batch: OutboxRecord[]): Promise<void> {
    const js = this.js!;
    const acks = batch.map((r) =>
      js
        .publish(siteSubject(this.site, r.kind), envelope(r), {
          msgID: r.id,
          expect: { streamName: SITE_STREAM },
          timeout: this.o.ackTimeoutMs,
        })
        .then(
          () => true,
          (e: Error) => e,
        ),
    );
    const results = await Promise.all(acks);
    let upTo = 0;
    let err: Error | null = null;
    for (let i = 0; i < results.length; i++) {
      if (results[i] !== true) {
        err = results[i] as Error;
        break;
      }
      upTo = batch[i]!.seq;
    }
    if (upTo > 0) {
      this.db.prepare('UPDATE outbox_cursor SET acked = ? WHERE acked < ?').run(upTo, upTo);
      const failed = results.findIndex((r) => r !== true);
      this.published += failed < 0 ? results.length : failed;
    }
    if (err !== null) throw err;
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

  /** Wait until every record is acknowledged or the time is up; the records still waiting. */
  async drain(timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    return this.pending;
  }
}

/** What goes on the wire: the record with its id and time, so the manager stores exactly what the site had. */
function envelope(r: OutboxRecord): Uint8Array {
  return Buffer.from(
    JSON.stringify({ id: r.id, at: r.at, kind: r.kind, body: JSON.parse(r.body) }),
  );
}

export interface SiteEnvelope {
  id: string;
  at: number;
  kind: SiteKind;
  body: unknown;
}
