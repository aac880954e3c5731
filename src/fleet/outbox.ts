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
// nats only as types here: the gateway loads this module (through the site backend) and must not load NATS.
import type { JetStreamClient, MsgHdrs } from 'nats';
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
  /**
   * Records held in memory while the disk refuses to record them (full, I/O error); beyond, new records are
   * lost and counted. They are written, in order, before any newer one once the disk takes them again.
   */
  holdMax?: number;
  /** How often a disk that still refuses is reported again (ms). */
  reportEveryMs?: number;
  log?: (m: string) => void;
  /** The site's clock (ms): the time of a record added without one, and the send stamp (default Date.now). */
  now?: () => number;
}

/**
 * The header a site stamps each record with as it publishes it: its clock then. With the record's own time (the
 * same clock) it tells the manager how long the record waited on the site, whatever the two clocks read.
 */
export const SENT_HEADER = 'Weir-Sent';

/** SQLite's answers when the disk cannot take a write (full, or failing): recording waits, enforcing goes on. */
export function diskRefused(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR)/.test(code);
}

interface HeldRecord {
  id: string;
  kind: SiteKind;
  body: string;
  at: number;
}

export class Outbox {
  private js: JetStreamClient | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private backoff: number;
  published = 0;
  lastError: string | null = null;
  /** Records not on disk yet: the disk refused them (at risk until written: a crash now loses them). */
  private readonly held: HeldRecord[] = [];
  /** Records lost because the disk refused them and the memory hold was full, since start. */
  lost = 0;
  /** Records the disk refused at first, since start (held, then written or lost). */
  refused = 0;
  /** Why the disk refuses, while it does. */
  diskError: string | null = null;
  private lastReport = 0;
  private readonly o: Required<OutboxOptions>;

  constructor(
    /** The node's store (node.db): the outbox, and the documents the node applied. */
    readonly db: FleetDb,
    readonly site: string,
    o: OutboxOptions = {},
  ) {
    this.o = {
      batch: o.batch ?? 256,
      ackTimeoutMs: o.ackTimeoutMs ?? 2000,
      minBackoffMs: o.minBackoffMs ?? 100,
      maxBackoffMs: o.maxBackoffMs ?? 2000,
      pollMs: o.pollMs ?? 100,
      holdMax: o.holdMax ?? 10_000,
      reportEveryMs: o.reportEveryMs ?? 10_000,
      log: o.log ?? ((m) => process.stderr.write(`weir: fleet: ${m}\n`)),
      now: o.now ?? Date.now,
    };
    this.backoff = this.o.minBackoffMs;
    db.prepare('INSERT OR IGNORE INTO outbox_cursor (one, acked) VALUES (1, 0)').run();
  }

  /**
   * Keep a record for the manager: durable on return, unless the disk refuses it (full, failing). Then it is
   * held in memory, counted and reported loudly as at risk, and written before any newer record once the disk
   * takes writes again; never a throw, so what records (a block, a detection) is never stopped by the disk.
   * Inside a caller's transaction a refusal is the caller's to handle (SQLite rolled it back whole).
   * A caller that names the id (made from what the record is, so the same record always has the same id) may
   * add it again: the copy is ignored here, by JetStream and by the manager.
   */
  add(kind: SiteKind, body: unknown, at = this.o.now(), fixedId?: string): string {
    const r: HeldRecord = {
      id: fixedId ?? `${this.site}:${randomUUID()}`,
      kind,
      body: JSON.stringify(body),
      at,
    };
    if (this.held.length > 0) this.writeHeld();
    if (this.held.length === 0) {
      try {
        this.write(r);
        this.wakeUp?.();
        return r.id;
      } catch (err) {
        if (!diskRefused(err) || this.db.inTransaction) throw err;
        this.diskError = (err as Error).message;
      }
    }
    this.refused++;
    if (this.held.length < this.o.holdMax) this.held.push(r);
    else this.lost++;
    this.report();
    return r.id;
  }

  private write(r: HeldRecord): void {
    this.db
      .prepare('INSERT OR IGNORE INTO outbox (id, kind, body, at) VALUES (?, ?, ?, ?)')
      .run(r.id, r.kind, r.body, r.at);
  }

  /** Records at risk: held in memory because the disk refused them. */
  get atRisk(): number {
    return this.held.length;
  }

  /** Write what the disk refused, oldest first, in one transaction; true when nothing is held any more. */
  writeHeld(): boolean {
    if (this.held.length === 0) return true;
    try {
      this.db.transaction(() => {
        for (const r of this.held) this.write(r);
      })();
    } catch (err) {
      if (!diskRefused(err)) throw err;
      this.diskError = (err as Error).message;
      this.report();
      return false;
    }
    const n = this.held.length;
    this.held.length = 0;
    this.diskError = null;
    this.lastReport = 0; // the next refusal is news again
    this.o.log(
      `outbox: the disk takes records again: ${n} held records written${this.lost > 0 ? `; ${this.lost} records were LOST while it refused` : ''}`,
    );
    this.wakeUp?.();
    return true;
  }

  /** Loud, but not once per record: at the first refusal, then every reportEveryMs while it lasts. */
  private report(): void {
    const now = Date.now();
    if (now - this.lastReport < this.o.reportEveryMs) return;
    this.lastReport = now;
    this.o.log(
      `outbox: DISK REFUSES RECORDS (${this.diskError ?? 'unknown'}): ${this.held.length} records at risk, held in memory (at most ${this.o.holdMax})${this.lost > 0 ? `, ${this.lost} LOST` : ''}; enforcement goes on; free space on the node's disk`,
    );
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

  /** Bodies of the records of one kind not yet acknowledged by the manager (written or held), oldest first. */
  unsent(kind: SiteKind): unknown[] {
    const written = this.db
      .prepare('SELECT body FROM outbox WHERE seq > ? AND kind = ? ORDER BY seq')
      .all(this.acked, kind) as Array<{ body: string }>;
    return [...written, ...this.held.filter((r) => r.kind === kind)].map(
      (r) => JSON.parse(r.body) as unknown,
    );
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
      if (this.held.length > 0)
        try {
          this.writeHeld();
        } catch (e) {
          this.o.log(`outbox: writing held records failed: ${(e as Error).message}`);
        }
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
        // JetStream's refusals come as '503' with the reason beside it (e.g. the stream's bound for a site).
        const api = (e as { api_error?: { description?: string } }).api_error?.description;
        const msg = api === undefined ? (e as Error).message : `JetStream refused: ${api}`;
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
    // Loaded already by whoever connected `js`: this only names it.
    const { headers } = await import('nats');
    const sent = String(this.o.now());
    const acks = batch.map((r) =>
      js
        .publish(siteSubject(this.site, r.kind), envelope(r), {
          msgID: r.id,
          // A set of headers per record: publish writes the record's id into the set it is given (it encodes
          // the message before the next publish today, but nothing promises that).
          headers: sentHeaders(headers(), sent),
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

/** A new header set `h` with the send stamp. */
function sentHeaders(h: MsgHdrs, sent: string): MsgHdrs {
  h.set(SENT_HEADER, sent);
  return h;
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
