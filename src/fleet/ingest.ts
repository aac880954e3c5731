/**
 * The manager's intake of the site stream, a batch at a time: every record JetStream has handed over and not
 * yet taken goes into manager.db in one transaction, and only after that commit is each acknowledged. So a
 * manager killed mid-batch has acknowledged none of it and JetStream hands the batch over again; a record
 * taken twice (redelivered, or a copy a site sent after JetStream's duplicate window) is kept once, by its id.
 * Records that are not what they claim (not JSON, too large, an id of another site, a malformed inventory,
 * incident or audit record) are counted per site and reason, acknowledged and dropped: they never stop the
 * intake and are never redelivered forever.
 *
 * Each site is read through its own durable consumer (filtered on its subtree) at its own rate: a site
 * flooding the manager waits in the stream behind its own records only, and every other site's go on being
 * taken. What waits is counted per site (held), and so are the times its rate held it back (throttled).
 * Each (site, kind) may hold a bounded number of records in the stream; at the bound the hub refuses the
 * site's next ones, which stay in its outbox. Below each site's acknowledged floor nothing can be delivered
 * again: that part of the stream is purged and the ledger of aggregated records is pruned there.
 */
import {
  AckPolicy,
  DeliverPolicy,
  millis,
  nanos,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { AggregateStore, MAX_RECORD_BYTES, Refused } from './aggregate-store.js';
import type { Settings } from '../settings/model.js';
import type { FleetDb } from './fleet-db.js';
import { SENT_HEADER, type SiteEnvelope } from './outbox.js';
import {
  ALL_SITES,
  INGEST_CONSUMER,
  parseSiteSubject,
  SITE_STREAM,
  siteSubtree,
  type SiteKind,
} from './subjects.js';

/** Records per transaction at most. */
const MAX_BATCH = 1000;
/** Records one pull of one site asks for at most. */
const MAX_PULL = 500;
/** A record delivered and not acknowledged (a manager killed mid-batch) comes again after this. */
export const INGEST_ACK_WAIT_MS = 30_000;

/** What one site may cost the manager (settings fleet.ingest_per_site_per_s, ingest_burst_per_site…). */
export interface IngestLimits {
  perSitePerS: number;
  burstPerSite: number;
  /** Records of one (site, kind) the stream holds at most (the stream's max_msgs_per_subject). */
  heldPerSiteKind: number;
  pruneEveryMs: number;
  /** How often new sites are looked for in the stream and the per-site counts written (ms). */
  scanEveryMs: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  perSitePerS: 1000,
  burstPerSite: 10_000,
  heldPerSiteKind: 1_000_000,
  pruneEveryMs: 60_000,
  scanEveryMs: 1000,
};

/** The limits of the settings' fleet section. */
export function ingestLimits(f: Settings['fleet']): IngestLimits {
  return {
    perSitePerS: f.ingest_per_site_per_s,
    burstPerSite: f.ingest_burst_per_site,
    heldPerSiteKind: f.held_per_site_kind,
    pruneEveryMs: f.ledger_prune_every_s * 1000,
    scanEveryMs: DEFAULT_INGEST_LIMITS.scanEveryMs,
  };
}

/** The durable consumer the manager reads one site through. */
export const siteIngestConsumer = (site: string): string => `${INGEST_CONSUMER}-${site}`;

/** Per site: its pull loop's state and what the sites page shows of it. */
interface SiteFeed {
  site: string;
  tokens: number;
  refilled: number;
  /** Records waiting in the stream for this site after its last pull. */
  held: number;
  throttled: number;
  taken: number;
  running: Promise<void>;
  /** The pull waiting now (stopped at once on stop). */
  pulling: ConsumerMessages | null;
  /** What was last written to fleet_intake for it. */
  written: string;
}
const AGGREGATED: ReadonlySet<SiteKind> = new Set([
  'inventory',
  'incident',
  'auditlog',
  'policy',
  'proposal',
  'playbook',
]);
/** The same, for SQL (the kinds whose ledger rows may go: their own tables keep them by version or sequence). */
const AGGREGATED_SQL = [...AGGREGATED].map((k) => `'${k}'`).join(', ');

/**
 * Forget a site's ledger rows at or below its acknowledged stream floor: aggregated kinds, and health records but
 * the newest. Newest by arrival (the rowid: fleet_records' `arrival`), not by stream sequence: a recreated stream restarts its numbering, and
 * the old stream's high row would otherwise stay "newest" while the new ones were deleted.
 */
export function pruneLedger(db: FleetDb, site: string, floor: number): number {
  return db
    .prepare(
      `DELETE FROM fleet_records WHERE site = ? AND stream_seq <= ? AND (kind IN (${AGGREGATED_SQL})
         OR (kind = 'health' AND rowid < (SELECT max(rowid) FROM fleet_records WHERE site = ? AND kind = 'health')))`,
    )
    .run(site, floor, site).changes;
}

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
  /** The site's clock when it sent the record (SENT_HEADER), null without. */
  sent: number | null;
}

export class SiteIngest {
  ingested = 0;
  duplicates = 0;
  /** Aggregated records that changed nothing kept (older versions, copies of records already kept). */
  superseded = 0;
  refused = 0;
  batches = 0;
  /** Records per transaction at most (the bench sets 1 to measure a commit per record beside it). */
  maxBatch = MAX_BATCH;
  /** Ledger rows pruned and stream records purged (below sites' acknowledged floors). */
  pruned = 0;
  private readonly feeds = new Map<string, SiteFeed>();
  private jsm: JetStreamManager | null = null;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  /** Where the one consumer of all sites (before per-site consumers) had acknowledged up to. */
  private legacyFloor = 0;
  /** Rate and burst take effect at each site's next pull (the stream's bound is set by the manager's setup). */
  limits: IngestLimits;
  private queue: JsMsg[] = [];
  private flushing: Promise<void> | null = null;
  private readonly agg: AggregateStore;
  private readonly q;

  constructor(
    private readonly db: FleetDb,
    private readonly nc: NatsConnection,
    private readonly h: IngestHooks,
    limits: Partial<IngestLimits> = {},
  ) {
    this.limits = { ...DEFAULT_INGEST_LIMITS, ...limits };
    this.agg = new AggregateStore(db);
    this.q = {
      stored: db.prepare('SELECT 1 FROM fleet_records WHERE id = ?'),
      record: db.prepare(
        'INSERT OR IGNORE INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      lag: db.prepare(
        `INSERT INTO fleet_lag (site, at, age, stored) VALUES (?, ?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET at = excluded.at, age = excluded.age, stored = excluded.stored
         WHERE excluded.at >= fleet_lag.at`,
      ),
      site: db.prepare(
        `INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET last_seen = excluded.last_seen, last_at = max(last_at, excluded.last_at),
           records = records + excluded.records, health = coalesce(excluded.health, health)`,
      ),
    };
  }

  /** Take in the site stream, each site from where its durable consumer stopped. */
  async start(): Promise<void> {
    this.jsm = await this.nc.jetstreamManager();
    await this.retireLegacyConsumer();
    await this.scan();
    const every = (ms: number, f: () => Promise<void>): void => {
      let busy = false;
      const t = setInterval(() => {
        if (busy) return;
        busy = true;
        f()
          .catch((e: Error) => this.h.log(`intake: ${e.message}`))
          .finally(() => (busy = false));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.limits.scanEveryMs, () => this.scan());
    every(this.limits.pruneEveryMs, async () => void (await this.prune()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const f of this.feeds.values()) f.pulling?.stop();
    await Promise.all([...this.feeds.values()].map((f) => f.running));
    await this.flushing;
  }

  /**
   * A manager.db from before per-site consumers was read through one consumer of all sites: its acknowledged
   * floor is kept (each site's consumer starts after it; what it took above it the ledger knows), then it goes.
   */
  private async retireLegacyConsumer(): Promise<void> {
    const mark = this.db.prepare("SELECT value FROM fleet_marks WHERE name = 'legacy_floor'");
    try {
      const info = await this.jsm!.consumers.info(SITE_STREAM, INGEST_CONSUMER);
      this.db
        .prepare(
          "INSERT INTO fleet_marks (name, value) VALUES ('legacy_floor', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .run(info.ack_floor.stream_seq);
      await this.jsm!.consumers.delete(SITE_STREAM, INGEST_CONSUMER);
    } catch (e) {
      if (!/not found/i.test((e as Error).message)) throw e;
    }
    this.legacyFloor = (mark.get() as { value: number } | undefined)?.value ?? 0;
  }

  /**
   * Sites with records in the stream (or known from before) each get their consumer and pull loop; every site's
   * held and throttled counts go to manager.db, and any kind of a site at the stream's bound is noted.
   */
  private async scan(): Promise<void> {
    if (this.stopped) return;
    const info = await this.jsm!.streams.info(SITE_STREAM, { subjects_filter: ALL_SITES });
    const atBound = new Map<string, string[]>();
    const sites = new Set(
      (this.db.prepare('SELECT site FROM fleet_sites').all() as Array<{ site: string }>).map(
        (r) => r.site,
      ),
    );
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const w = parseSiteSubject(subject);
      if (w === null) continue;
      sites.add(w.site);
      if (n >= this.limits.heldPerSiteKind)
        atBound.set(w.site, [...(atBound.get(w.site) ?? []), w.kind]);
    }
    await Promise.all([...sites].filter((s) => !this.feeds.has(s)).map((s) => this.follow(s)));
    const now = this.h.now();
    const put = this.db.prepare(
      `INSERT INTO fleet_intake (site, held, throttled, at_bound, bound_seen, at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (site) DO UPDATE SET held = excluded.held, throttled = excluded.throttled,
         at_bound = excluded.at_bound, bound_seen = bound_seen + excluded.bound_seen, at = excluded.at`,
    );
    // Only what changed is written: a commit (an fsync) every scan would hold up the intake for nothing.
    const changed = [...this.feeds.values()].flatMap((f) => {
      const kinds = atBound.get(f.site)?.join(',') ?? null;
      const row = `${f.held} ${f.throttled} ${kinds}`;
      if (row === f.written && kinds === null) return [];
      f.written = row;
      return [{ f, kinds }];
    });
    if (changed.length === 0) return;
    this.db.transaction(() => {
      for (const { f, kinds } of changed) {
        if (kinds !== null)
          this.h.log(
            `site ${f.site} is at the bound of ${this.limits.heldPerSiteKind} records waiting for ${kinds}: the hub refuses more, they wait in its outbox`,
          );
        put.run(f.site, f.held, f.throttled, kinds, kinds === null ? 0 : 1, now);
      }
    })();
  }

  private async follow(site: string): Promise<void> {
    const name = siteIngestConsumer(site);
    try {
      await this.jsm!.consumers.info(SITE_STREAM, name);
    } catch {
      const c: Partial<ConsumerConfig> = {
        durable_name: name,
        filter_subject: siteSubtree(site),
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(INGEST_ACK_WAIT_MS),
        max_ack_pending: 4 * MAX_PULL,
        ...(this.legacyFloor > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.legacyFloor + 1 }
          : { deliver_policy: DeliverPolicy.All }),
      };
      await this.jsm!.consumers.add(SITE_STREAM, c);
    }
    const feed: SiteFeed = {
      site,
      tokens: this.limits.burstPerSite,
      refilled: Date.now(),
      held: 0,
      throttled: 0,
      taken: 0,
      running: Promise.resolve(),
      pulling: null,
      written: '',
    };
    this.feeds.set(site, feed);
    feed.running = this.pull(feed).catch((e: Error) => {
      // A loop that failed is started again by the next scan.
      this.h.log(`intake of site ${site} stopped: ${e.message}`);
      this.feeds.delete(site);
    });
  }

  /** One site's loop: pull what its rate allows, hand it to the shared batch, wait for its commit. */
  private async pull(f: SiteFeed): Promise<void> {
    const consumer = await this.nc
      .jetstream()
      .consumers.get(SITE_STREAM, siteIngestConsumer(f.site));
    while (!this.stopped) {
      const { perSitePerS: rate, burstPerSite: burst } = this.limits;
      const t = Date.now();
      f.tokens = Math.min(burst, f.tokens + ((t - f.refilled) / 1000) * rate);
      f.refilled = t;
      if (f.tokens < 1) {
        // Held back: what it sent stays in the stream (unacknowledged, nothing lost) until its rate allows.
        if (f.held > 0) f.throttled++;
        // (in short steps: a rate raised meanwhile takes effect at once)
        await new Promise((r) =>
          setTimeout(r, Math.min(250, Math.max(5, ((1 - f.tokens) / rate) * 1000))),
        );
        continue;
      }
      const want = Math.max(1, Math.min(MAX_PULL, Math.floor(f.tokens)));
      // A pull of what the rate allows; each record goes to the shared batch as it arrives (a pull not filled
      // ends only when it expires, so waiting for the whole pull would delay a quiet site's records).
      const it = await consumer.fetch({ max_messages: want, expires: 2000 });
      f.pulling = it;
      let got = 0;
      for await (const m of it) {
        got++;
        f.held = m.info.pending;
        this.queue.push(m);
        this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
      }
      f.pulling = null;
      if (got === 0) {
        f.held = 0;
        continue;
      }
      f.tokens -= got;
      f.taken += got;
      await this.flushing;
    }
  }

  /** Per site: records waiting in the stream, and times its rate held it back. */
  intake(): Array<{ site: string; held: number; throttled: number; taken: number }> {
    return [...this.feeds.values()].map((f) => ({
      site: f.site,
      held: f.held,
      throttled: f.throttled,
      taken: f.taken,
    }));
  }

  /**
   * At or below a site's acknowledged floor its consumer never delivers again: purge that part of the stream
   * (so what a site holds there is what waits) and forget the ledger rows of its aggregated records there
   * (their tables keep them by version and sequence, so a copy sent again later is still taken once) and
   * its older health records (the newest stays on the sites page). Detections, audit events and blocks are
   * the manager's only copy and stay.
   */
  async prune(): Promise<number> {
    let n = 0;
    for (const f of [...this.feeds.values()]) {
      if (this.stopped) break;
      let floor: number;
      try {
        floor = (await this.jsm!.consumers.info(SITE_STREAM, siteIngestConsumer(f.site))).ack_floor
          .stream_seq;
      } catch {
        continue;
      }
      if (floor === 0) continue;
      n += pruneLedger(this.db, f.site, floor);
      const r = await this.jsm!.streams.purge(SITE_STREAM, {
        filter: siteSubtree(f.site),
        seq: floor + 1,
      });
      n += r.purged;
    }
    this.pruned += n;
    return n;
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
    const sent = Number(m.headers?.get(SENT_HEADER) || NaN);
    return {
      m,
      site: where.site,
      kind: where.kind,
      env,
      sent: Number.isFinite(sent) ? sent : null,
    };
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
    // Blocks act before their record is stored; one that fails stays unacknowledged (delivered again), one the
    // manager refuses (not a host, too long, another's block) is counted against the site and not stored.
    for (const t of blocks) {
      try {
        await this.h.block(t.env.body, t.site);
        ok.push(t);
      } catch (e) {
        if (e instanceof Refused) {
          this.refuse(t.m, t.site, t.kind, e.message);
          acks.push(t.m);
          continue;
        }
        this.h.log(
          `block from ${t.site} (record ${t.m.seq}) not published: ${(e as Error).message}`,
        );
      }
    }
    const fresh: Taken[] = [];
    this.db.transaction(() => {
      const perSite = new Map<
        string,
        { lastAt: number; n: number; health: string | null; newest: Taken | null }
      >();
      for (const t of ok) {
        acks.push(t.m);
        const s = perSite.get(t.site) ?? { lastAt: 0, n: 0, health: null, newest: null };
        perSite.set(t.site, s);
        if (t.env.at >= s.lastAt) s.newest = t;
        s.lastAt = Math.max(s.lastAt, t.env.at);
        if (this.q.stored.get(t.env.id) !== undefined) {
          this.duplicates++;
          continue;
        }
        if (AGGREGATED.has(t.kind))
          try {
            // Changed nothing (an older version, or one kept already whose ledger row was pruned and which was
            // delivered or sent again): not a new record.
            if (!this.agg.take(t.site, t.kind, t.env.body, now)) {
              this.superseded++;
              continue;
            }
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
      for (const [site, s] of perSite) {
        this.q.site.run(site, now, s.lastAt, s.n, s.health);
        // The newest record's wait on the site (its clock alone) and its time in the hub's stream since (ours).
        const n = s.newest;
        if (n?.sent != null)
          this.q.lag.run(
            site,
            n.env.at,
            Math.max(0, n.sent - n.env.at),
            millis(n.m.info.timestampNanos),
          );
      }
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
