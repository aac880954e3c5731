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
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { keyIdOf } from '../assess/bundle/format.js';
import { bundleBody, type BundleDocBody } from './bundle-doc.js';
import type { FleetDb } from './fleet-db.js';
import type { SiteEnvelope } from './outbox.js';
import { makePermit, type FleetPermit, type PermitGrant, type PermitsBody } from './permit-doc.js';
import { signDoc, verifyDoc } from './signed-doc.js';
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
  /** JetStream copies of the site stream and the state bucket (3 on a 3-server hub cluster; 1 on one hub). */
  replicas?: number;
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
  /** The state in force per kind, as this process last wrote or read it. */
  private readonly cache = new Map<
    StateKind,
    { version: number; revision: number; body: unknown }
  >();
  /** This manager's own public key: what it recognises as its documents in the bucket. */
  private readonly own: ReadonlyMap<string, KeyObject>;
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
    const pub = createPublicKey(createPrivateKey(o.signingKeyPem));
    this.own = new Map([[keyIdOf(pub), pub]]);
  }

  /** Make the stream and bucket (idempotent). */
  async setup(): Promise<void> {
    const jsm: JetStreamManager = await this.nc.jetstreamManager();
    const stream = {
      name: SITE_STREAM,
      subjects: [ALL_SITES],
      storage: StorageType.File,
      duplicate_window: nanos(this.o.duplicateWindowMs ?? 3_600_000),
      num_replicas: this.o.replicas ?? 1,
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
      replicas: this.o.replicas ?? 1,
    });
  }

  private sign(kind: StateKind, version: number, body: unknown): Uint8Array {
    return signDoc(this.o.signingKeyPem, { kind, version, publisher: this.o.publisher, body });
  }

  /**
   * The state in force of one kind: the newest version this manager's key signed among the bucket's history
   * (null: never published), and the bucket's last revision for the key. The bucket is the one record of it: a
   * manager killed mid-push either put the version or did not. Whatever else is in the bucket (a forged
   * document, an old one put back) is passed over here as the nodes pass over it.
   */
  async state<B>(kind: StateKind): Promise<{ version: number; revision: number; body: B } | null> {
    const c = this.cache.get(kind);
    if (c !== undefined) return c as { version: number; revision: number; body: B };
    let best: { version: number; revision: number; body: unknown } | null = null;
    let last = 0;
    const it = await this.kv!.history({ key: kind });
    for await (const e of it) {
      last = Math.max(last, e.revision);
      if (e.operation !== 'PUT') continue;
      try {
        const d = verifyDoc(e.value, kind, this.own, 0);
        if (best === null || d.version > best.version)
          best = { version: d.version, revision: 0, body: d.body };
      } catch {
        // not ours: skipped
      }
    }
    if (last === 0) return null;
    // Only documents not ours under the key: the next version is 1, written over them.
    best ??= { version: 0, revision: 0, body: null };
    best.revision = last;
    this.cache.set(kind, best);
    return best as { version: number; revision: number; body: B };
  }

  /**
   * Publish a new version of one kind of state, computed from the one in force; resolves once JetStream has
   * it. The write is conditional on the bucket's last revision for the key (anything written meanwhile, by
   * another manager process or anyone else, makes this one read the history and compute again), so versions
   * go out in order with no gap and no repeat.
   */
  publish<B>(kind: StateKind, next: (cur: B | null) => B): Promise<number> {
    const run = async (): Promise<number> => {
      for (let attempt = 0; ; attempt++) {
        const cur = await this.state<B>(kind);
        const version = (cur?.version ?? 0) + 1;
        const body = next(cur !== null && cur.version > 0 ? cur.body : null);
        const bytes = this.sign(kind, version, body);
        try {
          const revision =
            cur === null
              ? await this.kv!.create(kind, bytes)
              : await this.kv!.update(kind, bytes, cur.revision);
          this.cache.set(kind, { version, revision, body });
          // The sites page reads the latest version from manager.db (the dashboard has no NATS connection).
          this.db
            .prepare(
              `INSERT INTO fleet_state (kind, version, at) VALUES (?, ?, ?)
               ON CONFLICT (kind) DO UPDATE SET version = max(version, excluded.version), at = excluded.at`,
            )
            .run(kind, version, this.now());
          return version;
        } catch (e) {
          this.cache.delete(kind);
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

  /**
   * Grant a fleet permit (checked as a permit template is: functions, access, the TTL cap); the permits
   * document's new version carries it, with every other permit still running. Resolves to it and the version.
   */
  async grantPermit(g: PermitGrant): Promise<{ permit: FleetPermit; version: number }> {
    const nowS = Math.floor(this.now() / 1000);
    const permit = makePermit(g, nowS);
    const version = await this.publish<PermitsBody>('permits', (cur) => ({
      permits: [...(cur?.permits ?? []).filter((p) => p.until > nowS), permit],
    }));
    return { permit, version };
  }

  /** Withdraw a fleet permit before it runs out: a new version without it (sites withdraw it at once). */
  async revokePermit(id: string): Promise<number> {
    const nowS = Math.floor(this.now() / 1000);
    let found = false;
    const version = await this.publish<PermitsBody>('permits', (cur) => {
      const all = cur?.permits ?? [];
      found = all.some((p) => p.id === id && p.until > nowS);
      if (!found) throw new Error(`no running fleet permit '${id}'`);
      return { permits: all.filter((p) => p.id !== id && p.until > nowS) };
    });
    return version;
  }

  /**
   * Send an advisory bundle file (weir bundle make) to every site: a new version of the bundle document.
   * The bundle keeps its publisher's signature; each site checks it against its own trusted keys.
   */
  pushBundle(file: Buffer, source = 'bundle'): Promise<number> {
    const body = bundleBody(file, source);
    return this.publish<BundleDocBody>('bundle', () => body);
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
    const ev = env.body as {
      event?: string;
      kind?: string;
      version?: number;
      message?: string;
    } | null;
    if (where.kind === 'audit' && ev?.event === 'fleet.state.refused')
      this.log(`site ${where.site} refused a ${ev.kind} document (v${ev.version}): ${ev.message}`);
    if (where.kind === 'audit' && ev?.event === 'fleet.policy.port_level')
      this.log(
        `site ${where.site} enforces policy v${ev.version} PORT-LEVEL ONLY for ${((ev as { groups?: Array<{ group: string }> }).groups ?? []).map((g) => g.group).join(', ')}: ${ev.message}`,
      );
    if (where.kind === 'audit' && ev?.event === 'fleet.bundle.refused')
      this.log(
        `site ${where.site} refused the advisory bundle of bundle v${ev.version}: ${ev.message}`,
      );
    if (where.kind === 'audit' && ev?.event === 'fleet.permit.refused')
      this.log(
        `site ${where.site} refused fleet permit ${String((ev as { permit?: string }).permit)} (permits v${ev.version}): ${ev.message}`,
      );
    if (where.kind === 'audit' && ev?.event === 'fleet.block.refused')
      this.log(
        `site ${where.site} kept a fleet block off (blocklist v${ev.version}): ${ev.message}`,
      );
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
