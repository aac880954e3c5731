/**
 * A site's view of the manager's signed state: reads the KV bucket's stream through the site's own named
 * consumer (every version, in order, from where it stopped), verifies each document (trusted Ed25519 key, kind, a version newer than the one applied) and hands
 * it to `apply`. A refused document is recorded in node.db, reported to the manager through the outbox (an
 * audit record, delivered exactly once like any other) and told to `onRefused`; it is never applied. A verified
 * document this site cannot put into force (`apply` throws: a bridge host without br_netfilter, nft refusing the
 * ruleset) is refused the same way, as `not-applied`: the site keeps enforcing what it had, and the documents
 * after it (blocks, lifts, permits) are not held up behind it. It is tried again (at each start, and with
 * backoff from half a second up to `retryNotAppliedMs`: a passing fault heals at once, a host fixed later — br_netfilter
 * loaded — within that time) until it applies or a newer version of its kind does. What such a document put in force
 * before it failed (`PartlyApplied`: blocks, permits) is recorded as `partial`: the next version of its kind lifts
 * and revokes against it too, not only against the version applied. Once a policy is put into force, the permits
 * and blocklist applied are judged again under it (the zones a permit's server and a block's address are checked
 * against are the policy's).
 */
import type { KeyObject } from 'node:crypto';
import { AckPolicy, DeliverPolicy, nanos, type JetStreamClient } from 'nats';
import type { FleetDb } from './fleet-db.js';
import type { Outbox } from './outbox.js';
import { DocRefused, verifyDoc, type StateDoc } from './signed-doc.js';
import {
  STATE_BUCKET,
  STATE_KINDS,
  STATE_STREAM,
  stateConsumer,
  type StateKind,
} from './subjects.js';

/** One entry of the state bucket as the follower reads it off its consumer. */
interface StateEntry {
  key: string;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
}

export interface Applied {
  kind: StateKind;
  version: number;
  revision: number;
  body: unknown;
  /** What of `body` this site holds in force, when less than all of it (null: all of it, or not recorded). */
  held: unknown;
}

/**
 * A document put into force only in part before it failed: `partial` is what of its kind this site now holds
 * beyond the version applied (what it and earlier failed versions put in and nothing lifted since).
 */
export class PartlyApplied extends Error {
  constructor(
    message: string,
    readonly partial: unknown,
  ) {
    super(message);
  }
}

export interface FollowerOptions {
  trusted: ReadonlyMap<string, KeyObject>;
  /**
   * Put a verified document into force. It may return what of it this site holds in force when that is less
   * than the whole (recorded as `held`: a blocklist without the entries this site refused). It may throw: the
   * document is then refused as `not-applied` (while the node is stopping, it is taken again at the next start);
   * a `PartlyApplied` says what it put in all the same. `partial` is what documents of the kind that failed
   * half-way put in force beyond `previous` (null: nothing): lifts and revocations count it as held.
   */
  apply: (
    doc: StateDoc,
    previous: Applied | null,
    partial: unknown,
  ) => Promise<{ held?: unknown } | void>;
  onApplied?: (doc: StateDoc, revision: number) => void;
  onRefused?: (e: DocRefused, kind: string, revision: number) => void;
  log?: (m: string) => void;
  retryMs?: number;
  /** The longest wait between tries of a document refused as `not-applied` (default a minute). */
  retryNotAppliedMs?: number;
}

export class StateFollower {
  private stopped = false;
  /** Whether the not-applied documents were tried since this start (then only those whose wait is over). */
  private started = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
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
      .prepare('SELECT version, revision, body, held FROM state_applied WHERE kind = ?')
      .get(kind) as
      | { version: number; revision: number; body: string; held: string | null }
      | undefined;
    return r
      ? {
          kind,
          version: r.version,
          revision: r.revision,
          body: JSON.parse(r.body),
          held: r.held === null ? null : JSON.parse(r.held),
        }
      : null;
  }

  /** What documents of `kind` that failed half-way put in force beyond the version applied (null: nothing). */
  partial(kind: StateKind): unknown {
    const r = this.db.prepare('SELECT held FROM state_partial WHERE kind = ?').get(kind) as
      | { held: string }
      | undefined;
    return r === undefined ? null : JSON.parse(r.held);
  }

  /**
   * Per kind, the newest version this site refused or could not apply that no applied version has passed: what
   * the manager published and this site does not run (for the health record and the CLI).
   */
  notInForce(): Array<{ kind: string; version: number; reason: string }> {
    return this.db
      .prepare(
        `SELECT l.kind, l.version, l.reason FROM state_log l
         WHERE l.verdict = 'refused' AND l.version IS NOT NULL
           AND l.seq = (SELECT max(seq) FROM state_log WHERE kind = l.kind AND verdict = 'refused'
                        AND version IS NOT NULL)
           AND l.version > coalesce((SELECT version FROM state_applied a WHERE a.kind = l.kind), 0)
         ORDER BY l.kind`,
      )
      .all() as Array<{ kind: string; version: number; reason: string }>;
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
    this.wake?.();
    await this.running;
  }

  /**
   * Read the bucket's stream through this site's own consumer (the one name the hub lets it use), from the
   * revision after the last one dealt with. When the hub is unreachable, or the consumer went away (the hub
   * restarted, or dropped it after a long silence), make it again from where we are. Until then the node
   * enforces what it last applied.
   */
  private async loop(js: JetStreamClient): Promise<void> {
    const name = stateConsumer(this.outbox.site);
    const prefix = `$KV.${STATE_BUCKET}.`;
    let told = false;
    while (!this.stopped) {
      try {
        await this.retryNotApplied(); // also while the hub is out of reach
        const jsm = await js.jetstreamManager(false);
        await jsm.consumers.delete(STATE_STREAM, name).catch(() => undefined);
        await jsm.consumers.add(STATE_STREAM, {
          name,
          ack_policy: AckPolicy.None,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.revision + 1,
          mem_storage: true,
          inactive_threshold: nanos(120_000),
        });
        const consumer = await js.consumers.get(STATE_STREAM, name);
        told = false;
        while (!this.stopped) {
          await this.retryNotApplied();
          // Heartbeats from the hub while a pull waits: a pull lost on the way (a link that flapped) ends in
          // an error, not in a wait for ever; and whatever happens, no pull outlives its time by much.
          const batch = await consumer.fetch({
            max_messages: 256,
            expires: 2000,
            idle_heartbeat: 1000,
          });
          this.wake = () => batch.stop();
          let late = false;
          const overdue = setTimeout(() => {
            late = true;
            batch.stop();
          }, 5000);
          let n = 0;
          try {
            for await (const m of batch) {
              n++;
              if (this.stopped) break;
              const op = m.headers?.get('KV-Operation');
              await this.take({
                key: m.subject.startsWith(prefix) ? m.subject.slice(prefix.length) : m.subject,
                revision: m.seq,
                operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
                value: m.data,
              });
            }
          } finally {
            clearTimeout(overdue);
          }
          // Cut short, it may have dropped what the hub had sent already: start again from the cursor.
          if (late && !this.stopped) throw new Error('a pull of the state stream overran its time');
          // A quiet spell: is the consumer still there (a hub that restarted has none)? Throws if not.
          if (n === 0 && !this.stopped) await consumer.info(false);
        }
      } catch (e) {
        if (!told) this.log(`state stream not reachable (${(e as Error).message}); retrying`);
        told = true;
      }
      if (!this.stopped)
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.o.retryMs ?? 500);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
    }
  }

  private async take(e: StateEntry): Promise<void> {
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
      this.refuse(kind, e.revision, err, now);
      return;
    }
    let held: unknown = null;
    try {
      held = (await this.o.apply(doc, prev, this.partial(kind)))?.held ?? null;
    } catch (err) {
      this.keepPartial(kind, err);
      // Stopping (a wait on a locked store cut short): not the document's fault, take it again at the next start.
      if (this.stopped) throw err;
      const why = (err as Error).message;
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT INTO state_retry (kind, revision, value, attempts, reason, due) VALUES (?, ?, ?, 1, ?, ?)
             ON CONFLICT (kind) DO UPDATE SET revision = excluded.revision, value = excluded.value,
               attempts = 1, reason = excluded.reason, due = excluded.due`,
          )
          .run(kind, e.revision, Buffer.from(e.value), why, now + this.backoff(1));
        this.refuse(
          kind,
          e.revision,
          new DocRefused(
            'not-applied',
            `this site could not put it into force (${why}); it keeps enforcing ${prev === null ? 'no fleet ' + kind : `${kind} v${prev.version}`}${err instanceof PartlyApplied ? ' with what this version put in' : ''} and tries again`,
            doc.version,
          ),
          now,
        );
      })();
      return;
    }
    this.commit(kind, doc, e.revision, held, now);
    if (kind === 'policy') await this.rejudge(doc.version);
  }

  /** Record what a document that failed half-way put in force (a `PartlyApplied`; any other failure put nothing in). */
  private keepPartial(kind: StateKind, err: unknown): void {
    if (!(err instanceof PartlyApplied)) return;
    this.db
      .prepare(
        `INSERT INTO state_partial (kind, held, at) VALUES (?, ?, ?)
         ON CONFLICT (kind) DO UPDATE SET held = excluded.held, at = excluded.at`,
      )
      .run(kind, JSON.stringify(err.partial), Date.now());
  }

  /**
   * Judge the permits and blocklist applied again under a policy just put into force (review 13, L10): a permit's
   * zone and the zones' addresses no block may hit are read from the policy in force, and those documents were
   * judged under the one before (a policy that applied only on a retry comes after them). A failure is logged and
   * audited; what it changed stays recorded (held, partial), and the next version of the kind judges again.
   */
  private async rejudge(policy: number): Promise<void> {
    for (const kind of ['permits', 'blocklist'] as const) {
      if (this.stopped) return;
      // A newer version waits for a retry: it is tried at once, under this policy, rather than the older one
      // judged again (which would lift or revoke what the newer one put in).
      if (this.db.prepare('UPDATE state_retry SET due = 0 WHERE kind = ?').run(kind).changes > 0)
        continue;
      const prev = this.applied(kind);
      if (prev === null) continue;
      const keyId = (
        this.db.prepare('SELECT digest FROM state_applied WHERE kind = ?').get(kind) as {
          digest: string;
        }
      ).digest;
      const doc: StateDoc = {
        format: 'weir-state/1',
        kind,
        version: prev.version,
        issued: '',
        publisher: `key ${keyId}, judged again under policy v${policy}`,
        keyId,
        body: prev.body,
      };
      let failed: string | null = null;
      try {
        const held = (await this.o.apply(doc, prev, this.partial(kind)))?.held ?? null;
        this.db.transaction(() => {
          this.db
            .prepare('UPDATE state_applied SET held = ? WHERE kind = ?')
            .run(held === null ? null : JSON.stringify(held), kind);
          this.db.prepare('DELETE FROM state_partial WHERE kind = ?').run(kind);
        })();
      } catch (err) {
        this.keepPartial(kind, err);
        if (this.stopped) throw err;
        failed = (err as Error).message;
        this.log(`${kind} v${prev.version} judged again under policy v${policy}: ${failed}`);
      }
      this.outbox.add('audit', {
        event: 'fleet.state.rejudged',
        kind,
        version: prev.version,
        policy,
        ...(failed === null ? {} : { message: failed }),
      });
    }
  }

  /** The wait before try `attempt + 1`: doubling from half a second to `retryNotAppliedMs`. */
  private backoff(attempt: number): number {
    return Math.min(this.o.retryNotAppliedMs ?? 60_000, 500 * 2 ** Math.min(attempt - 1, 20));
  }

  /**
   * Try again the documents refused as `not-applied` (one per kind, the newest) whose wait is over; at a start
   * every one. A newer version of the kind applied since drops it; a failure again is counted, not reported.
   */
  private async retryNotApplied(): Promise<void> {
    const now = Date.now();
    const rows = this.db
      .prepare(
        'SELECT kind, revision, value, attempts FROM state_retry WHERE due <= ? ORDER BY revision',
      )
      .all(this.started ? now : Number.MAX_SAFE_INTEGER) as Array<{
      kind: StateKind;
      revision: number;
      value: Buffer;
      attempts: number;
    }>;
    this.started = true;
    for (const r of rows) {
      if (this.stopped) return;
      const prev = this.applied(r.kind);
      let doc: StateDoc;
      try {
        doc = verifyDoc(new Uint8Array(r.value), r.kind, this.o.trusted, prev?.version ?? 0);
      } catch {
        // Passed by a newer version applied since (or no longer trusted): nothing left to try.
        this.db.prepare('DELETE FROM state_retry WHERE kind = ?').run(r.kind);
        continue;
      }
      let held: unknown = null;
      try {
        held = (await this.o.apply(doc, prev, this.partial(r.kind)))?.held ?? null;
      } catch (err) {
        this.keepPartial(r.kind, err);
        if (this.stopped) throw err;
        this.db
          .prepare(
            'UPDATE state_retry SET attempts = attempts + 1, reason = ?, due = ? WHERE kind = ?',
          )
          .run((err as Error).message, Date.now() + this.backoff(r.attempts + 1), r.kind);
        continue;
      }
      this.log(`applied ${r.kind} v${doc.version} on a retry (refused as not-applied before)`);
      this.commit(r.kind, doc, r.revision, held, Date.now());
      if (r.kind === 'policy') await this.rejudge(doc.version);
    }
  }

  /**
   * Record a document put into force (and drop any older one of its kind waiting for a retry, and what failed
   * versions had put in: this one lifted or holds it).
   */
  private commit(
    kind: StateKind,
    doc: StateDoc,
    revision: number,
    held: unknown,
    now: number,
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO state_applied (kind, version, revision, digest, body, held, at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (kind) DO UPDATE SET version = excluded.version, revision = excluded.revision,
             digest = excluded.digest, body = excluded.body, held = excluded.held, at = excluded.at`,
        )
        .run(
          kind,
          doc.version,
          revision,
          doc.keyId,
          JSON.stringify(doc.body),
          held === null ? null : JSON.stringify(held),
          now,
        );
      this.db
        .prepare(
          'INSERT INTO state_log (kind, version, revision, verdict, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(kind, doc.version, revision, 'applied', `signed by ${doc.keyId}`, now);
      this.outbox.add('audit', {
        event: 'fleet.state.applied',
        kind,
        version: doc.version,
        revision: revision,
      });
      this.db.prepare('DELETE FROM state_retry WHERE kind = ?').run(kind);
      this.db.prepare('DELETE FROM state_partial WHERE kind = ?').run(kind);
      this.advance(revision);
    })();
    this.o.onApplied?.(doc, revision);
  }

  /** Record a refused document, report it to the manager, move past it. */
  private refuse(kind: string, revision: number, err: DocRefused, now: number): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO state_log (kind, version, revision, verdict, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(kind, err.version, revision, 'refused', `${err.reason}: ${err.message}`, now);
      this.outbox.add('audit', {
        event: 'fleet.state.refused',
        kind,
        version: err.version,
        revision: revision,
        reason: err.reason,
        message: err.message,
      });
      this.advance(revision);
    })();
    this.log(`refused ${kind} at revision ${revision}: ${err.message}`);
    this.o.onRefused?.(err, kind, revision);
  }

  private advance(revision: number): void {
    this.db
      .prepare('UPDATE state_cursor SET revision = ? WHERE revision < ?')
      .run(revision, revision);
  }
}
