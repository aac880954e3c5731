/**
 * The manager's side of the fleet: takes in what every site sends (exactly once, into manager.db), keeps the
 * fleet's signed state (policy, blocklist, permits) in a JetStream KV bucket with history, and turns a block
 * decided at one site into a new blocklist version every site applies.
 */
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
} from 'nats';
import type { FleetDb } from './fleet-db.js';
import type { SiteEnvelope } from './outbox.js';
import { signDoc, type StateDoc } from './signed-doc.js';
import {
  ALL_SITES,
  INGEST_CONSUMER,
  parseSiteSubject,
  SITE_STREAM,
  STATE_BUCKET,
  type StateKind,
} from './subjects.js';

/** One address blocked across the fleet. */
export interface BlockEntry {
  address: string;
  /** Epoch seconds at which it lapses. */
  until: number;
  /** The site that decided it (or 'manager'). */
  origin: string;
  comment: string;
}

export interface Blocklist {
  entries: BlockEntry[];
}

/** What a site's 'block' record carries (its FleetBackend writes it). */
export interface BlockRequest {
  address: string;
  ttlSeconds: number;
  comment: string;
  unblock?: boolean;
}

export interface ManagerOptions {
  /** Who signs (recorded in each document). */
  publisher: string;
  /** PEM of the manager's Ed25519 signing key. */
  signingKeyPem: string;
  /** How long JetStream remembers message ids to drop copies (the manager's insert by id covers longer). */
  duplicateWindowMs?: number;
  /** State versions kept per key (KV history, at most 64). */
  history?: number;
  now?: () => number;
  log?: (m: string) => void;
  /** Told about each record stored (first time only). */
  onRecord?: (site: string, env: SiteEnvelope) => void;
}

export class FleetManager {
  private js: JetStreamClient;
  private kv: KV | null = null;
  private messages: ConsumerMessages | null = null;
  private ingesting: Promise<void> | null = null;
  /** State pushes run one after another: versions go out in the order they were decided. */
  private chain: Promise<unknown> = Promise.resolve();
  ingested = 0;
  duplicates = 0;
  private readonly now: () => number;
  private readonly log: (m: string) => void;

  constructor(
    private readonly db: FleetDb,
    private readonly nc: NatsConnection,
    private readonly o: ManagerOptions,
  ) {
    this.js = nc.jetstream();
    this.now = o.now ?? Date.now;
    this.log = o.log ?? ((m) => process.stderr.write(`weir: manager: ${m}\n`));
  }

  /** Make the stream and bucket (idempotent). */
  async setup(): Promise<void> {
    const jsm: JetStreamManager = await this.nc.jetstreamManager();
    const stream = {
      name: SITE_STREAM,
      subjects: [ALL_SITES],
      storage: StorageType.File,
      duplicate_window: nanos(this.o.duplicateWindowMs ?? 3_600_000),
    };
    try {
      await jsm.streams.info(SITE_STREAM);
      await jsm.streams.update(SITE_STREAM, stream);
    } catch {
      await jsm.streams.add(stream);
    }
    this.kv = await this.js.views.kv(STATE_BUCKET, {
      history: this.o.history ?? 64,
      storage: StorageType.File,
    });
  }

  private sign(kind: StateKind, version: number, body: unknown): Uint8Array {
    return signDoc(this.o.signingKeyPem, { kind, version, publisher: this.o.publisher, body });
  }

  /**
   * The state in force of one kind, read from the bucket (null: never published). The bucket is the one
   * record of it: a manager killed mid-push either put the version or did not, nothing in between to repair.
   */
  async state<B>(kind: StateKind): Promise<{ version: number; revision: number; body: B } | null> {
    const e = await this.kv!.get(kind);
    if (e === null || e.operation !== 'PUT' || e.value.length === 0) return null;
    const doc = docOf(e.value);
    return doc === null
      ? null
      : { version: doc.version, revision: e.revision, body: doc.body as B };
  }

  /**
   * Publish a new version of one kind of state, computed from the one in force; resolves once JetStream has
   * it. The write is conditional on the revision it was computed from (another manager process pushing at the
   * same time makes this one compute again), so versions go out in order with no gap and no repeat.
   */
  publish<B>(kind: StateKind, next: (cur: B | null) => B): Promise<number> {
    const run = async (): Promise<number> => {
      for (let attempt = 0; ; attempt++) {
        const cur = await this.state<B>(kind);
        const version = (cur?.version ?? 0) + 1;
        const bytes = this.sign(kind, version, next(cur?.body ?? null));
        try {
          if (cur === null) await this.kv!.create(kind, bytes);
          else await this.kv!.update(kind, bytes, cur.revision);
          return version;
        } catch (e) {
          if (attempt >= 20 || !/wrong last sequence|exists/i.test((e as Error).message)) throw e;
        }
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Add (or lift) a fleet-wide block; the blocklist's new version goes to every site. */
  block(req: BlockRequest, origin: string): Promise<number> {
    const nowS = Math.floor(this.now() / 1000);
    return this.publish<Blocklist>('blocklist', (cur) => {
      const entries = (cur?.entries ?? []).filter(
        (e) => e.until > nowS && e.address !== req.address,
      );
      if (req.unblock !== true)
        entries.push({
          address: req.address,
          until: nowS + req.ttlSeconds,
          origin,
          comment: req.comment,
        });
      return { entries };
    });
  }

  /** Take in the site stream from where this manager's durable consumer stopped. */
  async startIngest(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    try {
      await jsm.consumers.info(SITE_STREAM, INGEST_CONSUMER);
    } catch {
      await jsm.consumers.add(SITE_STREAM, {
        durable_name: INGEST_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(30_000),
        max_ack_pending: 20_000,
      });
    }
    const consumer = await this.js.consumers.get(SITE_STREAM, INGEST_CONSUMER);
    this.messages = await consumer.consume({ max_messages: 1000 });
    this.ingesting = (async () => {
      for await (const m of this.messages!) {
        try {
          await this.take(m.subject, m.data, m.seq);
          m.ack();
        } catch (e) {
          // Left unacknowledged: JetStream delivers it again after ack_wait.
          this.log(`record ${m.seq} on ${m.subject} not stored: ${(e as Error).message}`);
        }
      }
    })();
  }

  /** Store one record (once: by its id) and act on it; a record that is not one is logged and dropped. */
  private async take(subject: string, data: Uint8Array, seq: number): Promise<void> {
    const where = parseSiteSubject(subject);
    let env: SiteEnvelope;
    try {
      env = JSON.parse(Buffer.from(data).toString('utf8')) as SiteEnvelope;
    } catch {
      this.log(`record ${seq} on ${subject}: not JSON; dropped`);
      return;
    }
    // The hub lets a site publish only its own subjects; its ids must be its own too.
    if (where === null || typeof env.id !== 'string' || !env.id.startsWith(`${where.site}:`)) {
      this.log(`record ${seq} on ${subject}: id ${String(env.id)} is not that site's; dropped`);
      return;
    }
    const received = this.now();
    // A block is put into the blocklist before the record is stored: a crash in between makes JetStream
    // deliver it again and the block is published again (harmless), never stored-but-not-acted-on.
    if (where.kind === 'block' && !this.stored(env.id))
      await this.block(env.body as BlockRequest, where.site);
    const fresh =
      this.db
        .prepare(
          'INSERT OR IGNORE INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(env.id, where.site, where.kind, JSON.stringify(env.body), seq, env.at, received)
        .changes === 1;
    this.db
      .prepare(
        `INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET last_seen = excluded.last_seen, last_at = max(last_at, excluded.last_at),
           records = records + excluded.records, health = coalesce(excluded.health, health)`,
      )
      .run(
        where.site,
        received,
        env.at,
        fresh ? 1 : 0,
        where.kind === 'health' ? JSON.stringify(env.body) : null,
      );
    if (!fresh) {
      this.duplicates++;
      return;
    }
    this.ingested++;
    this.o.onRecord?.(where.site, env);
  }

  private stored(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM fleet_records WHERE id = ?').get(id) !== undefined;
  }

  /** Per site: when it was last heard from, the time of its newest record, how many records, its health. */
  sites(): Array<{
    site: string;
    lastSeen: number;
    lastAt: number;
    records: number;
    health: unknown;
  }> {
    return (
      this.db
        .prepare('SELECT site, last_seen, last_at, records, health FROM fleet_sites ORDER BY site')
        .all() as Array<{
        site: string;
        last_seen: number;
        last_at: number;
        records: number;
        health: string | null;
      }>
    ).map((r) => ({
      site: r.site,
      lastSeen: r.last_seen,
      lastAt: r.last_at,
      records: r.records,
      health: r.health === null ? null : JSON.parse(r.health),
    }));
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.ingesting;
    await this.chain;
  }
}

/** The document in a bucket value, unverified (the manager reads back what it signed). */
function docOf(bytes: Uint8Array): StateDoc | null {
  try {
    const env = JSON.parse(Buffer.from(bytes).toString('utf8')) as { doc: string };
    const d = JSON.parse(env.doc) as StateDoc;
    return Number.isSafeInteger(d.version) ? d : null;
  } catch {
    return null;
  }
}
