/**
 * The manager's intake of the site stream, a batch at a time: every record JetStream has handed over and not
 * yet taken goes into manager.db in one transaction, and only after that commit is each acknowledged. So a
 * manager killed mid-batch has acknowledged none of it and JetStream hands the batch over again; a record
 * taken twice (redelivered, or a copy a site sent after JetStream's duplicate window) is kept once, by its id.
 * Records that are not what they claim (not JSON, too large, an id of another site, a malformed inventory,
 * incident or audit record) are counted per site and reason, acknowledged and dropped: they never stop the
 * intake and are never redelivered forever.
 */
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type ConsumerMessages,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { AggregateStore, MAX_RECORD_BYTES, Refused } from './aggregate-store.js';
import type { FleetDb } from './fleet-db.js';
import type { SiteEnvelope } from './outbox.js';
import { INGEST_CONSUMER, parseSiteSubject, SITE_STREAM, type SiteKind } from './subjects.js';

/** Records per transaction at most. */
const MAX_BATCH = 1000;
const AGGREGATED: ReadonlySet<SiteKind> = new Set([
  'inventory',
  'incident',
  'auditlog',
  'policy',
  'proposal',
  'playbook',
]);

export interface IngestHooks {
  /** Act on a site's block request (before its record is stored: a crash in between repeats the block). */
  block(body: unknown, site: string): Promise<unknown>;
  onRecord?: (site: string, env: SiteEnvelope) => void;
  log: (m: string) => void;
  now: () => number;
}

interface Taken {
  m: JsMsg;
  site: string;
  kind: SiteKind;
  env: SiteEnvelope;
}

export class SiteIngest {
  ingested = 0;
  duplicates = 0;
  refused = 0;
  batches = 0;
  /** Records per transaction at most (the bench sets 1 to measure a commit per record beside it). */
  maxBatch = MAX_BATCH;
  private messages: ConsumerMessages | null = null;
  private queue: JsMsg[] = [];
  private flushing: Promise<void> | null = null;
  private readonly agg: AggregateStore;
  private readonly q;

  constructor(
    private readonly db: FleetDb,
    private readonly nc: NatsConnection,
    private readonly h: IngestHooks,
  ) {
    this.agg = new AggregateStore(db);
    this.q = {
      stored: db.prepare('SELECT 1 FROM fleet_records WHERE id = ?'),
      record: db.prepare(
        'INSERT OR IGNORE INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      site: db.prepare(
        `INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET last_seen = excluded.last_seen, last_at = max(last_at, excluded.last_at),
           records = records + excluded.records, health = coalesce(excluded.health, health)`,
      ),
    };
  }

  /** Take in the site stream from where the manager's durable consumer stopped. */
  async start(): Promise<void> {
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
    const consumer = await this.nc.jetstream().consumers.get(SITE_STREAM, INGEST_CONSUMER);
    this.messages = await consumer.consume({
      max_messages: MAX_BATCH,
      // Messages of one pull arrive together: queue them, take them in one go on the next turn.
      callback: (m) => {
        this.queue.push(m);
        this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
      },
    });
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          await this.takeBatch(batch);
        } catch (e) {
          // Nothing of it acknowledged: JetStream delivers it again after ack_wait.
          this.h.log(`${batch.length} records not stored: ${(e as Error).message}`);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /** Refusals of the batch being taken, written with it. */
  private refusals: Array<[site: string, kind: string, reason: string]> = [];

  private refuse(m: JsMsg, site: string, kind: string, reason: string): null {
    this.refusals.push([site, kind, reason]);
    this.h.log(`record ${m.seq} on ${m.subject}: ${reason}; refused`);
    return null;
  }

  /** A record's envelope, or null when it is refused (counted). */
  private open(m: JsMsg): Taken | null {
    const where = parseSiteSubject(m.subject);
    if (where === null) return this.refuse(m, 'unknown', 'unknown', 'not a site subject');
    if (m.data.length > MAX_RECORD_BYTES)
      return this.refuse(m, where.site, where.kind, 'too large');
    let env: SiteEnvelope;
    try {
      env = JSON.parse(Buffer.from(m.data).toString('utf8')) as SiteEnvelope;
    } catch {
      return this.refuse(m, where.site, where.kind, 'not JSON');
    }
    if (env === null || typeof env !== 'object')
      return this.refuse(m, where.site, where.kind, 'not a record');
    // The hub lets a site publish only its own subjects; its ids must be its own too.
    if (typeof env.id !== 'string' || env.id.length > 256 || !env.id.startsWith(`${where.site}:`))
      return this.refuse(m, where.site, where.kind, "id is not the site's");
    if (typeof env.at !== 'number' || !Number.isFinite(env.at))
      return this.refuse(m, where.site, where.kind, 'no time');
    return { m, site: where.site, kind: where.kind, env };
  }

  private async takeBatch(msgs: JsMsg[]): Promise<void> {
    const now = this.h.now();
    // Refusals are counted in the same transaction as the batch: counted once even when it is redelivered.
    this.refusals = [];
    const ok: Taken[] = [];
    const acks: JsMsg[] = [];
    const blocks: Taken[] = [];
    for (const m of msgs) {
      const t = this.open(m);
      if (t === null) acks.push(m);
      else if (t.kind === 'block' && this.q.stored.get(t.env.id) === undefined) blocks.push(t);
      else ok.push(t);
    }
    // Blocks act before their record is stored; one that fails stays unacknowledged (delivered again).
    for (const t of blocks) {
      try {
        await this.h.block(t.env.body, t.site);
        ok.push(t);
      } catch (e) {
        this.h.log(
          `block from ${t.site} (record ${t.m.seq}) not published: ${(e as Error).message}`,
        );
      }
    }
    const fresh: Taken[] = [];
    this.db.transaction(() => {
      const perSite = new Map<string, { lastAt: number; n: number; health: string | null }>();
      for (const t of ok) {
        acks.push(t.m);
        const s = perSite.get(t.site) ?? { lastAt: 0, n: 0, health: null };
        perSite.set(t.site, s);
        s.lastAt = Math.max(s.lastAt, t.env.at);
        if (this.q.stored.get(t.env.id) !== undefined) {
          this.duplicates++;
          continue;
        }
        if (AGGREGATED.has(t.kind))
          try {
            this.agg.take(t.site, t.kind, t.env.body, now);
          } catch (e) {
            if (!(e instanceof Refused)) throw e;
            this.refuse(t.m, t.site, t.kind, `malformed: ${e.message}`);
            continue;
          }
        // Aggregated records live in their own tables; the ledger keeps their id (exactly once) only.
        const body = AGGREGATED.has(t.kind) ? 'null' : JSON.stringify(t.env.body);
        this.q.record.run(t.env.id, t.site, t.kind, body, t.m.seq, t.env.at, now);
        s.n++;
        if (t.kind === 'health') s.health = JSON.stringify(t.env.body);
        fresh.push(t);
      }
      for (const [site, s] of perSite) this.q.site.run(site, now, s.lastAt, s.n, s.health);
      for (const [site, kind, reason] of this.refusals) this.agg.refuse(site, kind, reason, now);
    })();
    this.refused += this.refusals.length;
    this.batches++;
    for (const m of acks) m.ack();
    this.ingested += fresh.length;
    for (const t of fresh) this.told(t);
  }

  private told(t: Taken): void {
    this.h.onRecord?.(t.site, t.env);
    const ev = t.env.body as {
      event?: string;
      kind?: string;
      version?: number;
      message?: string;
    } | null;
    if (t.kind === 'audit' && ev?.event === 'fleet.state.refused')
      this.h.log(`site ${t.site} refused a ${ev.kind} document (v${ev.version}): ${ev.message}`);
    if (t.kind === 'audit' && ev?.event === 'fleet.block.refused')
      this.h.log(`site ${t.site} kept a fleet block off (blocklist v${ev.version}): ${ev.message}`);
    // What a site could not put into force as sent (fleet-dist: permits, bundles, policies without a gateway).
    if (t.kind === 'audit' && ev?.event === 'fleet.policy.port_level')
      this.h.log(
        `site ${t.site} enforces policy v${ev.version} PORT-LEVEL ONLY for ${((ev as { groups?: Array<{ group: string }> }).groups ?? []).map((g) => g.group).join(', ')}: ${ev.message}`,
      );
    if (t.kind === 'audit' && ev?.event === 'fleet.bundle.refused')
      this.h.log(
        `site ${t.site} refused the advisory bundle of bundle v${ev.version}: ${ev.message}`,
      );
    if (t.kind === 'audit' && ev?.event === 'fleet.permit.refused')
      this.h.log(
        `site ${t.site} refused fleet permit ${String((ev as { permit?: string }).permit)} (permits v${ev.version}): ${ev.message}`,
      );
  }
}
