/**
 * The manager's side of the fleet: takes in what every site sends (exactly once, into manager.db), keeps the
 * fleet's signed state (policy, blocklist, permits) in a JetStream KV bucket with history, and turns a block
 * decided at one site into a new blocklist version every site applies.
 */
import {
  DiscardPolicy,
  nanos,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
} from 'nats';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { keyIdOf } from '../assess/bundle/format.js';
import { Refused } from './aggregate-store.js';
import {
  checkBlockRequest,
  carriedEntry,
  withBlock,
  type BlockEntry,
  type BlockRequest,
} from './block-request.js';
// The block record's shapes live beside their checks; callers keep importing them from here.
export type { BlockEntry, BlockRequest } from './block-request.js';
import { bundleBody, type BundleDocBody } from './bundle-doc.js';
import type { FleetDb } from './fleet-db.js';
import { DEFAULT_INGEST_LIMITS, SiteIngest, type IngestLimits } from './ingest.js';
import type { SiteEnvelope } from './outbox.js';
import { makePermit, type FleetPermit, type PermitGrant, type PermitsBody } from './permit-doc.js';
import { signDoc, verifyDoc } from './signed-doc.js';
import { ALL_SITES, SITE_STREAM, STATE_BUCKET, type StateKind } from './subjects.js';

export interface Blocklist {
  entries: BlockEntry[];
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
  /** What one site may cost the intake (settings fleet.ingest_per_site_per_s and the rest). */
  ingest?: Partial<IngestLimits>;
}

export class FleetManager {
  private js: JetStreamClient;
  private kv: KV | null = null;
  private intake: SiteIngest | null = null;
  /** State pushes run one after another: versions go out in the order they were decided. */
  private chain: Promise<unknown> = Promise.resolve();
  /** The state in force per kind, as this process last wrote or read it. */
  private readonly cache = new Map<
    StateKind,
    { version: number; revision: number; body: unknown }
  >();
  /** This manager's own public key: what it recognises as its documents in the bucket. */
  private readonly own: ReadonlyMap<string, KeyObject>;
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
      // (A narrower list, one wildcard per kind, would not reach sites: the hub passes a leaf only interest its
      // site may publish to, and `weir.site.*.detection` is not within `weir.site.NAME.>`.)
      subjects: [ALL_SITES],
      storage: StorageType.File,
      duplicate_window: nanos(this.o.duplicateWindowMs ?? 3_600_000),
      num_replicas: this.o.replicas ?? 1,
      // A site's records of one kind waiting for the manager are bounded: past it the hub refuses its next
      // ones (they stay in its outbox) instead of dropping the oldest unread ones as the default would.
      max_msgs_per_subject: this.o.ingest?.heldPerSiteKind ?? DEFAULT_INGEST_LIMITS.heldPerSiteKind,
      discard: DiscardPolicy.New,
      discard_new_per_subject: true,
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

  /**
   * Add a fleet-wide block (origin: a site, or `manager:<person>`); the blocklist's new version goes to every
   * site. Each origin keeps its own entry per address: a new block replaces only that origin's, so nobody
   * shortens another's block. `unblock` here is the manager's operator lifting every entry for the address.
   */
  block(req: BlockRequest, origin: string): Promise<number> {
    const r = checkBlockRequest(req);
    if (r.unblock === true) return this.unblock(r.address, origin);
    const nowS = Math.floor(this.now() / 1000);
    return this.publish<Blocklist>('blocklist', (cur) => ({
      entries: withBlock(this.live(cur, nowS), r, origin, nowS),
    }));
  }

  /** The manager's operator lifts an address fleet-wide, whoever blocked it (`by` names who, for the log). */
  unblock(address: string, by: string): Promise<number> {
    const ip = checkBlockRequest({ address, unblock: true }).address;
    const nowS = Math.floor(this.now() / 1000);
    return this.publish<Blocklist>('blocklist', (cur) => {
      const entries = this.live(cur, nowS);
      const lifted = entries.filter((e) => e.address === ip);
      if (lifted.length > 0)
        this.log(`${by} lifted ${ip} (blocked by ${lifted.map((e) => e.origin).join(', ')})`);
      return { entries: entries.filter((e) => e.address !== ip) };
    });
  }

  /**
   * A site's block record: checked as input (its node may be an attacker's), and a site lifts only its own
   * entries; a block another site or the manager placed is lifted by the manager's operator. Refused records
   * throw Refused (the intake counts them against the site).
   */
  private siteBlock(body: unknown, site: string): Promise<number> {
    const r = checkBlockRequest(body);
    if (r.unblock !== true) return this.block(r, site);
    const nowS = Math.floor(this.now() / 1000);
    return this.publish<Blocklist>('blocklist', (cur) => {
      const entries = this.live(cur, nowS);
      const others = entries.filter((e) => e.address === r.address && e.origin !== site);
      if (others.length > 0 && !entries.some((e) => e.address === r.address && e.origin === site))
        throw new Refused(
          `a site lifts only its own blocks: ${r.address} was blocked by ${others.map((e) => e.origin).join(', ')}`,
        );
      return { entries: entries.filter((e) => !(e.address === r.address && e.origin === site)) };
    });
  }

  /** The entries still running, as the checks hold them (entries written before the checks carried over). */
  private live(cur: Blocklist | null, nowS: number): BlockEntry[] {
    const out: BlockEntry[] = [];
    for (const e of cur?.entries ?? []) {
      if (!(e.until > nowS)) continue;
      const c = carriedEntry(e, nowS);
      if (c === null)
        this.log(`dropped a blocklist entry that names no host: ${JSON.stringify(e)}`);
      else if (c.until > nowS) out.push(c);
    }
    return out;
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

  /** Take in the site stream (a batch per transaction, see ingest.ts) from where this manager stopped. */
  async startIngest(): Promise<void> {
    this.intake = new SiteIngest(
      this.db,
      this.nc,
      {
        block: (body, site) => this.siteBlock(body, site),
        onRecord: this.o.onRecord,
        log: this.log,
        now: this.now,
      },
      this.o.ingest,
    );
    await this.intake.start();
  }

  get ingested(): number {
    return this.intake?.ingested ?? 0;
  }

  get duplicates(): number {
    return this.intake?.duplicates ?? 0;
  }

  /** Bench: records per intake transaction at most (1: a commit per record). */
  set ingestMaxBatch(n: number) {
    if (this.intake) this.intake.maxBatch = n;
  }

  /** Change the per-site rate and burst of the running intake. */
  setIngestRate(perSitePerS: number, burstPerSite: number): void {
    if (this.intake) Object.assign(this.intake.limits, { perSitePerS, burstPerSite });
  }

  /** Per site: records waiting in the stream and times its rate held it back. */
  siteIntake(): ReturnType<SiteIngest['intake']> {
    return this.intake?.intake() ?? [];
  }

  /** Purge the stream and prune the ledger below each site's acknowledged floor now (also on a timer). */
  prune(): Promise<number> {
    return this.intake?.prune() ?? Promise.resolve(0);
  }

  /** Transactions the intake committed (records per transaction = ingested / this). */
  get ingestBatches(): number {
    return this.intake?.batches ?? 0;
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
    await this.intake?.stop();
    await this.chain;
  }
}
