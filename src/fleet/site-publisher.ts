/**
 * A site's inventory, incidents and audit log on their way to the manager, through the site's outbox (so the
 * link down only makes them wait). Each tick reads what changed in the site's store since the last one:
 * - assets, edges and incidents whose change mark (last seen; updated at) is at or past the last one read and
 *   whose content differs from what was last sent go out as the next version of that (type, key); a full
 *   sweep now and then also catches changes that did not move the mark and sends deletions as tombstones;
 * - the active policy and the change proposals are read whole each tick (few rows), playbook actions by when
 *   they were decided; each goes out the same way, as the next version of its key (site-policy-records.ts);
 * - audit entries past the last one sent go out verbatim (the manager checks the chain).
 * Each record's id is made from what it is (type, key, version; the audit sequence), and the outbox entries
 * and this publisher's own marks are written in one transaction of the site's fleet database: a crash leaves
 * both or neither, and a record sent twice is one record everywhere. A tick sends at most `maxRecords`; the
 * rest wait for the next.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { FleetDb } from './fleet-db.js';
import type { Outbox } from './outbox.js';
import type { SiteKind } from './subjects.js';
import {
  activePolicyRows,
  PLAYBOOK_SQL,
  playbookRow,
  proposalRows,
  type SourceRow,
} from './site-policy-records.js';

export type ItemType = 'asset' | 'edge' | 'incident' | 'policy' | 'proposal' | 'playbook';

/** What an inventory or incident record carries. */
export interface ItemRecord {
  type: ItemType;
  key: string;
  version: number;
  deleted?: true;
  doc: unknown;
}

/** One audit entry as the site's store holds it (details as stored text: the chain hashes that text). */
export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  simulationId: string | null;
  details: string;
  prevHash: string;
  hash: string;
  keyId: string | null;
  mac: string | null;
}

export interface PublisherOptions {
  everyMs?: number;
  /** Records per tick at most (the outbox and the link take them in batches). */
  maxRecords?: number;
  /** A document larger than this is not sent (counted in `oversize`): the manager would refuse it. */
  maxDocBytes?: number;
  /** Every how many ticks the whole store is compared (changes that did not move a mark, deletions). */
  fullSweepEvery?: number;
  log?: (m: string) => void;
}

interface Source {
  kind: SiteKind;
  sql: string;
  markSql: string;
  /** A row of `sql` as the record's (key, mark, doc), where the query does not give them as they are. */
  row?: (r: Record<string, unknown>) => SourceRow;
  /** Rows read whole every tick instead (few, with no change mark); deletions are caught on every tick too. */
  read?: (store: Db) => SourceRow[];
}

const SOURCES: Record<ItemType, Source> = {
  asset: {
    kind: 'inventory',
    sql: 'SELECT id AS key, last_seen AS mark, doc FROM assets',
    markSql: 'last_seen',
  },
  edge: {
    kind: 'inventory',
    sql: 'SELECT id AS key, last_seen AS mark, doc FROM edges',
    markSql: 'last_seen',
  },
  incident: {
    kind: 'incident',
    sql: 'SELECT id AS key, updated_at AS mark, doc FROM incidents',
    markSql: 'updated_at',
  },
  policy: { kind: 'policy', sql: '', markSql: '', read: activePolicyRows },
  proposal: { kind: 'proposal', sql: '', markSql: '', read: proposalRows },
  playbook: { kind: 'playbook', sql: PLAYBOOK_SQL, markSql: 'at', row: playbookRow },
};

/** The policy first: zones of the site's assets at the manager come from it, so it does not wait behind them. */
const ORDER: readonly ItemType[] = ['policy', 'proposal', 'asset', 'edge', 'incident', 'playbook'];

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The record's id: the same (site, type, key, version) always gets the same one. */
export const itemId = (site: string, type: ItemType, key: string, version: number): string =>
  `${site}:${type}:${sha(key).slice(0, 24)}:${version}`;
export const auditId = (site: string, seq: number): string => `${site}:auditlog:${seq}`;

export class SitePublisher {
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  sent = 0;
  oversize = 0;
  private readonly o: Required<PublisherOptions>;

  constructor(
    private readonly store: Db,
    private readonly fleetDb: FleetDb,
    private readonly outbox: Outbox,
    o: PublisherOptions = {},
  ) {
    this.o = {
      everyMs: o.everyMs ?? 5000,
      maxRecords: o.maxRecords ?? 2000,
      maxDocBytes: o.maxDocBytes ?? 192 * 1024,
      fullSweepEvery: o.fullSweepEvery ?? 60,
      log: o.log ?? ((m) => process.stderr.write(`weir: fleet: ${m}\n`)),
    };
  }

  start(): void {
    const run = (): void => {
      try {
        this.tick();
      } catch (e) {
        // A busy or half-migrated store: try again next tick; nothing was marked sent.
        this.o.log(`publishing to the manager: ${(e as Error).message}`);
      }
    };
    run();
    this.timer = setInterval(run, this.o.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass: what changed goes into the outbox; the number of records added. */
  tick(full = this.ticks++ % this.o.fullSweepEvery === 0): number {
    let budget = this.o.maxRecords;
    for (const type of ORDER) {
      if (budget <= 0) break;
      budget -= this.items(type, full, budget);
    }
    if (budget > 0) budget -= this.audit(budget);
    const n = this.o.maxRecords - budget;
    this.sent += n;
    return n;
  }

  private mark(type: string): string | null {
    return (
      (
        (this.fleetDb.prepare('SELECT mark FROM pub_marks WHERE type = ?').get(type) as
          | { mark: string }
          | undefined) ?? null
      )?.mark ?? null
    );
  }

  private setMark(type: string, mark: unknown): void {
    this.fleetDb
      .prepare(
        'INSERT INTO pub_marks (type, mark) VALUES (?, ?) ON CONFLICT (type) DO UPDATE SET mark = excluded.mark',
      )
      .run(type, JSON.stringify(mark));
  }

  private items(type: ItemType, fullSweep: boolean, budget: number): number {
    const src = SOURCES[type];
    const m = this.mark(type);
    const full = fullSweep || src.read !== undefined;
    const raw = (
      src.read !== undefined
        ? src.read(this.store)
        : full || m === null
          ? this.store.prepare(`${src.sql} ORDER BY ${src.markSql}, id`).all()
          : this.store
              .prepare(`${src.sql} WHERE ${src.markSql} >= ? ORDER BY ${src.markSql}, id`)
              .all(JSON.parse(m))
    ) as Array<Record<string, unknown>>;
    const rows = (src.row && src.read === undefined ? raw.map(src.row) : raw) as SourceRow[];
    const sent = this.fleetDb.prepare(
      'SELECT digest, version FROM pub_items WHERE type = ? AND key = ?',
    );
    const put = this.fleetDb.prepare(
      `INSERT INTO pub_items (type, key, digest, version) VALUES (?, ?, ?, ?)
       ON CONFLICT (type, key) DO UPDATE SET digest = excluded.digest, version = excluded.version`,
    );
    let n = 0;
    let capped = false;
    let maxMark: number | string | null = null;
    const send = (key: string, body: ItemRecord, digest: string): void => {
      this.outbox.add(
        src.kind,
        body,
        Date.now(),
        itemId(this.outbox.site, type, key, body.version),
      );
      put.run(type, key, digest, body.version);
      n++;
    };
    this.fleetDb.transaction(() => {
      for (const r of rows) {
        const digest = sha(r.doc);
        const prev = sent.get(type, r.key) as { digest: string; version: number } | undefined;
        if (prev?.digest !== digest) {
          if (n >= budget) {
            capped = true;
            break;
          }
          if (Buffer.byteLength(r.doc) > this.o.maxDocBytes) {
            // Kept as sent (version unchanged) so it is counted once, not every tick, until it changes again.
            this.oversize++;
            this.o.log(`${type} ${r.key}: ${r.doc.length} bytes, too large to send to the manager`);
            put.run(type, r.key, digest, prev?.version ?? 0);
          } else {
            send(
              r.key,
              { type, key: r.key, version: (prev?.version ?? 0) + 1, doc: JSON.parse(r.doc) },
              digest,
            );
          }
        }
        if (maxMark === null || r.mark > maxMark) maxMark = r.mark;
      }
      if (full && !capped) {
        // Gone from the store since last sent (an asset merged into another, an incident absorbed).
        const have = new Set(rows.map((r) => r.key));
        const known = this.fleetDb
          .prepare("SELECT key, version FROM pub_items WHERE type = ? AND digest <> 'deleted'")
          .all(type) as Array<{ key: string; version: number }>;
        for (const k of known) {
          if (have.has(k.key)) continue;
          if (n >= budget) {
            capped = true;
            break;
          }
          send(
            k.key,
            { type, key: k.key, version: k.version + 1, deleted: true, doc: null },
            'deleted',
          );
        }
      }
      // The mark moves only when everything up to it went out.
      if (!capped && maxMark !== null) this.setMark(type, maxMark);
    })();
    return n;
  }

  private audit(budget: number): number {
    const m = this.mark('auditlog');
    const after = m === null ? 0 : (JSON.parse(m) as number);
    const rows = this.store
      .prepare(
        `SELECT seq, at, actor, action, subject, simulation_id AS simulationId, details, prev_hash AS prevHash,
           hash, key_id AS keyId, mac FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`,
      )
      .all(after, budget) as AuditRecord[];
    if (rows.length === 0) return 0;
    this.fleetDb.transaction(() => {
      for (const r of rows)
        this.outbox.add('auditlog', r, Date.now(), auditId(this.outbox.site, r.seq));
      this.setMark('auditlog', rows.at(-1)!.seq);
    })();
    return rows.length;
  }
}
