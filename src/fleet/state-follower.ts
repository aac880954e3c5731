/**
 * A site's view of the manager's signed state: watches the KV bucket (every version, in order, from where it
 * stopped), verifies each document (trusted Ed25519 key, kind, a version newer than the one applied) and hands
 * it to `apply`. A refused document is recorded in node.db, reported to the manager through the outbox (an
 * audit record, delivered exactly once like any other) and told to `onRefused`; it is never applied.
 */
import type { KeyObject } from 'node:crypto';
import type { JetStreamClient, KV, KvEntry, QueuedIterator } from 'nats';
import type { FleetDb } from './fleet-db.js';
import type { Outbox } from './outbox.js';
import { DocRefused, verifyDoc, type StateDoc } from './signed-doc.js';
import { STATE_BUCKET, STATE_KINDS, type StateKind } from './subjects.js';

export interface Applied {
  kind: StateKind;
  version: number;
  revision: number;
  body: unknown;
}

export interface FollowerOptions {
  trusted: ReadonlyMap<string, KeyObject>;
  /** Put a verified document into force (it may throw: it is retried on the next start, never skipped). */
  apply: (doc: StateDoc, previous: Applied | null) => Promise<void>;
  onApplied?: (doc: StateDoc, revision: number) => void;
  onRefused?: (e: DocRefused, kind: string, revision: number) => void;
  log?: (m: string) => void;
  retryMs?: number;
}

export class StateFollower {
  private stopped = false;
  private watch: QueuedIterator<KvEntry> | null = null;
  private running: Promise<void> | null = null;
  private readonly log: (m: string) => void;

  constructor(
    private readonly db: FleetDb,
    private readonly outbox: Outbox,
    private readonly o: FollowerOptions,
  ) {
    this.log = o.log ?? ((m) => process.stderr.write(`weir: fleet: ${m}\n`));
    db.prepare('INSERT OR IGNORE INTO state_cursor (one, revision) VALUES (1, 0)').run();
  }

  /** The bucket revision this node has dealt with (applied or refused) up to. */
  get revision(): number {
    return (this.db.prepare('SELECT revision FROM state_cursor').get() as { revision: number })
      .revision;
  }

  applied(kind: StateKind): Applied | null {
    const r = this.db
      .prepare('SELECT version, revision, body FROM state_applied WHERE kind = ?')
      .get(kind) as { version: number; revision: number; body: string } | undefined;
    return r ? { kind, version: r.version, revision: r.revision, body: JSON.parse(r.body) } : null;
  }

  /** What happened to each version seen, oldest first (for tests, the CLI and the dashboard). */
  history(): Array<{
    kind: string;
    version: number | null;
    revision: number;
    verdict: string;
    reason: string;
  }> {
    return this.db
      .prepare('SELECT kind, version, revision, verdict, reason FROM state_log ORDER BY seq')
      .all() as Array<{
      kind: string;
      version: number | null;
      revision: number;
      verdict: string;
      reason: string;
    }>;
  }

  start(js: JetStreamClient): void {
    this.running ??= this.loop(js);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.stop();
    await this.running;
  }

  /**
   * Watch from the next revision; when the watch ends (the hub unreachable long enough for the client to give
   * up on it) start again from where we are. Until then the node enforces what it last applied.
   */
  private async loop(js: JetStreamClient): Promise<void> {
    let kv: KV | null = null;
    let told = false;
    while (!this.stopped) {
      try {
        kv ??= await js.views.kv(STATE_BUCKET, { bindOnly: true });
        const from = this.revision + 1;
        this.watch = await kv.watch({ resumeFromRevision: from, ignoreDeletes: true });
        told = false;
        for await (const e of this.watch) {
          if (this.stopped) break;
          await this.take(e);
        }
      } catch (e) {
        if (!told) this.log(`state bucket not reachable (${(e as Error).message}); retrying`);
        told = true;
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, this.o.retryMs ?? 500));
    }
  }

  private async take(e: KvEntry): Promise<void> {
    if (e.revision <= this.revision) return;
    const kind = e.key as StateKind;
    const now = Date.now();
    if (e.operation !== 'PUT' || !(STATE_KINDS as readonly string[]).includes(kind)) {
      this.advance(e.revision);
      return;
    }
    const prev = this.applied(kind);
    let doc: StateDoc;
    try {
      doc = verifyDoc(e.value, kind, this.o.trusted, prev?.version ?? 0);
    } catch (err) {
      if (!(err instanceof DocRefused)) throw err;
      this.db.transaction(() => {
        this.db
          .prepare(
            'INSERT INTO state_log (kind, version, revision, verdict, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(kind, err.version, e.revision, 'refused', `${err.reason}: ${err.message}`, now);
        this.outbox.add('audit', {
          event: 'fleet.state.refused',
          kind,
          version: err.version,
          revision: e.revision,
          reason: err.reason,
          message: err.message,
        });
        this.advance(e.revision);
      })();
      this.log(`refused ${kind} at revision ${e.revision}: ${err.message}`);
      this.o.onRefused?.(err, kind, e.revision);
      return;
    }
    await this.o.apply(doc, prev);
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO state_applied (kind, version, revision, digest, body, at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (kind) DO UPDATE SET version = excluded.version, revision = excluded.revision,
             digest = excluded.digest, body = excluded.body, at = excluded.at`,
        )
        .run(kind, doc.version, e.revision, doc.keyId, JSON.stringify(doc.body), now);
      this.db
        .prepare(
          'INSERT INTO state_log (kind, version, revision, verdict, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(kind, doc.version, e.revision, 'applied', `signed by ${doc.keyId}`, now);
      this.outbox.add('audit', {
        event: 'fleet.state.applied',
        kind,
        version: doc.version,
        revision: e.revision,
      });
      this.advance(e.revision);
    })();
    this.o.onApplied?.(doc, e.revision);
  }

  private advance(revision: number): void {
    this.db
      .prepare('UPDATE state_cursor SET revision = ? WHERE revision < ?')
      .run(revision, revision);
  }
}
