/**
 * The manager's copy of every site's assets, edges, incidents and audit log, in manager.db. Records come from
 * sites, so each is checked for shape before it is kept; the site is always the one of the subject it came
 * on (the hub lets a site publish only there), never what the record says. Assets, edges and incidents are
 * kept by (site, type, key), newest version wins, so a record taken twice or late changes nothing. Audit
 * entries are kept verbatim by (site, sequence) and their chain is checked on read: a gap or a broken link is
 * reported, never smoothed over.
 */
import { entryHash } from '../store/audit-store.js';
import type { FleetDb } from './fleet-db.js';
import type { AuditRecord, ItemRecord, ItemType } from './site-publisher.js';
import type { SiteKind } from './subjects.js';
import { policyDocProblem } from './site-policy-records.js';
import { Refused } from './refused.js';

/** A record larger than this is refused (a site's documents are bounded far below it). */
export const MAX_RECORD_BYTES = 256 * 1024;

// Refused has its own module, so that checks such as block-request.ts need not load the store.
export { Refused };

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;
const strOrNull = (v: unknown, max: number): boolean =>
  v === null || (typeof v === 'string' && v.length <= max);
const posInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const HEX64 = /^[0-9a-f]{64}$/;

const TYPES_OF: Partial<Record<SiteKind, readonly ItemType[]>> = {
  inventory: ['asset', 'edge'],
  incident: ['incident'],
  policy: ['policy'],
  proposal: ['proposal'],
  playbook: ['playbook'],
};

/** An inventory or incident record of that kind, or Refused. */
export function checkItem(kind: SiteKind, body: unknown): ItemRecord {
  if (!isObj(body)) throw new Refused('not an object');
  const types = TYPES_OF[kind] ?? [];
  if (!types.includes(body.type as ItemType))
    throw new Refused(`type ${String(body.type)} is not a ${kind}`);
  if (!str(body.key, 512)) throw new Refused('no key');
  if (!posInt(body.version)) throw new Refused('no version');
  if (body.deleted === true)
    return {
      type: body.type as ItemType,
      key: body.key,
      version: body.version,
      deleted: true,
      doc: null,
    };
  if (!isObj(body.doc)) throw new Refused('no document');
  const problem = policyDocProblem(body.type as string, body.key, body.doc);
  if (problem !== null) throw new Refused(problem);
  return { type: body.type as ItemType, key: body.key, version: body.version, doc: body.doc };
}

/** An audit entry as the site's store holds it, or Refused. */
export function checkAuditRecord(body: unknown): AuditRecord {
  if (!isObj(body)) throw new Refused('not an object');
  const b = body;
  if (!posInt(b.seq)) throw new Refused('no sequence number');
  for (const f of ['at', 'actor', 'action'] as const)
    if (!str(b[f], 4096)) throw new Refused(`no ${f}`);
  if (typeof b.subject !== 'string' || b.subject.length > 4096) throw new Refused('no subject');
  if (typeof b.details !== 'string') throw new Refused('details are not the stored text');
  if (!(b.prevHash === '' || (typeof b.prevHash === 'string' && HEX64.test(b.prevHash))))
    throw new Refused('previous hash is not a hash');
  if (typeof b.hash !== 'string' || !HEX64.test(b.hash)) throw new Refused('hash is not a hash');
  if (!strOrNull(b.simulationId, 200) || !strOrNull(b.keyId, 200) || !strOrNull(b.mac, 200))
    throw new Refused('bad simulation, key or mac field');
  return b as unknown as AuditRecord;
}

/** Statements of the aggregate, prepared once per manager.db handle. */
export class AggregateStore {
  private readonly q;

  constructor(db: FleetDb) {
    this.q = {
      item: db.prepare(
        `INSERT INTO fleet_items (site, type, key, version, deleted, doc, updated) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (site, type, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
           doc = excluded.doc, updated = excluded.updated WHERE excluded.version > fleet_items.version`,
      ),
      audit: db.prepare(
        `INSERT OR IGNORE INTO fleet_audit (site, seq, at, actor, action, subject, simulation_id, details,
           prev_hash, hash, key_id, mac, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      auditHash: db.prepare('SELECT hash FROM fleet_audit WHERE site = ? AND seq = ?'),
      reject: db.prepare(
        `INSERT INTO fleet_rejects (site, kind, reason, n, last) VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (site, kind, reason) DO UPDATE SET n = n + 1, last = excluded.last`,
      ),
    };
  }

  /**
   * Keep an inventory, incident or audit record of `site` (throws Refused); inside the caller's transaction.
   * False when it changed nothing (a version or entry already kept): the record ledger may forget such records.
   */
  take(site: string, kind: SiteKind, body: unknown, now: number): boolean {
    if (kind === 'auditlog') {
      const a = checkAuditRecord(body);
      const r = this.q.audit.run(
        site,
        a.seq,
        a.at,
        a.actor,
        a.action,
        a.subject,
        a.simulationId,
        a.details,
        a.prevHash,
        a.hash,
        a.keyId,
        a.mac,
        now,
      );
      // A second, different entry under a sequence already kept: the first stays, the other is evidence.
      if (r.changes === 0) {
        const kept = this.q.auditHash.get(site, a.seq) as { hash: string } | undefined;
        if (kept !== undefined && kept.hash !== a.hash)
          throw new Refused(`a different audit entry ${a.seq} than the one kept`);
      }
      return r.changes > 0;
    }
    const it = checkItem(kind, body);
    const r = this.q.item.run(
      site,
      it.type,
      it.key,
      it.version,
      it.deleted ? 1 : 0,
      JSON.stringify(it.doc),
      now,
    );
    return r.changes > 0;
  }

  refuse(site: string, kind: string, reason: string, now: number): void {
    this.q.reject.run(site, kind, reason.slice(0, 200), now);
  }
}

export interface Rejects {
  site: string;
  kind: string;
  reason: string;
  n: number;
  last: number;
}

export function readRejects(db: FleetDb): Rejects[] {
  return db
    .prepare('SELECT site, kind, reason, n, last FROM fleet_rejects ORDER BY site, kind, reason')
    .all() as Rejects[];
}

/** What checking a site's audit chain at the manager found. */
export interface ChainCheck {
  site: string;
  /** intact: every entry from 1 on, each linked to the one before; incomplete: entries missing (a gap, not yet
   * arrived or withheld); tampered: an entry whose hash or link does not match. */
  status: 'intact' | 'incomplete' | 'tampered' | 'empty';
  entries: number;
  lastSeq: number | null;
  problems: Array<{ seq: number; problem: string }>;
}

/** Walk one site's kept audit entries in order and say where the chain breaks or has holes. */
export function checkSiteChain(db: FleetDb, site: string): ChainCheck {
  const rows = db
    .prepare(`SELECT ${CHAIN_COLS} FROM fleet_audit WHERE site = ? ORDER BY seq`)
    .iterate(site) as IterableIterator<ChainRow>;
  const w = walkChain(rows, null);
  return {
    site,
    status: w.entries === 0 ? 'empty' : w.tampered ? 'tampered' : w.gaps ? 'incomplete' : 'intact',
    entries: w.entries,
    lastSeq: w.last?.seq ?? null,
    problems: w.problems,
  };
}

/** How often the cached check walks a site's whole chain again (an edit of an old entry in manager.db). */
export const CHAIN_FULL_EVERY_MS = 10 * 60_000;

interface ChainMark {
  /** The end of the prefix from entry 1 found intact: entries up to it are not hashed again. */
  seq: number;
  hash: string;
  entries: number;
  /** When the whole chain was last walked. */
  fullAt: number;
}

/** Per manager.db handle and site: how far the chain was found intact. In memory, so a writer of manager.db
 * cannot move it; a restarted process walks each chain once in full. */
const marks = new WeakMap<FleetDb, Map<string, ChainMark>>();

/** Rows hashed by checkSiteChainCached (tests read it to see that only new entries are hashed). */
export const chainStats = { hashed: 0, full: 0 };

type ChainRow = {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  sim: string | null;
  details: string;
  prev: string;
  hash: string;
};
const CHAIN_COLS = `seq, at, actor, action, subject, simulation_id AS sim, details, prev_hash AS prev, hash`;

/**
 * checkSiteChain without walking the whole chain on every request: the entries after the last intact one
 * are hashed (normally the few that arrived since), the end of the intact prefix is confirmed unchanged, and
 * every `fullEveryMs` the whole chain is walked again, so an old entry edited in manager.db is still caught.
 * Same answer as checkSiteChain, except an edit inside the intact prefix shows at the next full walk.
 */
export function checkSiteChainCached(
  db: FleetDb,
  site: string,
  o: { now?: number; fullEveryMs?: number } = {},
): ChainCheck {
  const now = o.now ?? Date.now();
  let bySite = marks.get(db);
  if (bySite === undefined) marks.set(db, (bySite = new Map()));
  let mark = bySite.get(site);
  const endOf = mark
    ? (db.prepare('SELECT hash FROM fleet_audit WHERE site = ? AND seq = ?').get(site, mark.seq) as
        | { hash: string }
        | undefined)
    : undefined;
  // No mark, time for a full walk, or the intact prefix's last entry changed or went: walk it all.
  if (
    mark === undefined ||
    now - mark.fullAt >= (o.fullEveryMs ?? CHAIN_FULL_EVERY_MS) ||
    endOf?.hash !== mark.hash
  ) {
    chainStats.full++;
    mark = { seq: 0, hash: '', entries: 0, fullAt: now };
    bySite.set(site, mark);
  }
  const rows = db
    .prepare(`SELECT ${CHAIN_COLS} FROM fleet_audit WHERE site = ? AND seq > ? ORDER BY seq`)
    .iterate(site, mark.seq) as IterableIterator<ChainRow>;
  const tail = walkChain(rows, mark.seq === 0 ? null : { seq: mark.seq, hash: mark.hash });
  // The prefix grows by the new entries that extend it intact.
  mark.seq = tail.intactTo?.seq ?? mark.seq;
  mark.hash = tail.intactTo?.hash ?? mark.hash;
  const entries = mark.entries + tail.entries;
  mark.entries += tail.intactCount;
  return {
    site,
    status:
      entries === 0 ? 'empty' : tail.tampered ? 'tampered' : tail.gaps ? 'incomplete' : 'intact',
    entries,
    lastSeq: tail.last?.seq ?? (mark.seq === 0 ? null : mark.seq),
    problems: tail.problems,
  };
}

/** Walk entries in order from `from` (the last entry before them, null: from the first) and note problems. */
function walkChain(rows: Iterable<ChainRow>, from: { seq: number; hash: string } | null) {
  const problems: ChainCheck['problems'] = [];
  let tampered = false;
  let gaps = false;
  let last = from;
  let intactTo = null as { seq: number; hash: string } | null;
  let intactCount = 0;
  let entries = 0;
  const note = (seq: number, problem: string): void => {
    if (problems.length < 50) problems.push({ seq, problem });
  };
  for (const r of rows) {
    entries++;
    chainStats.hashed++;
    let ok = true;
    const expect: number = (last?.seq ?? 0) + 1;
    if (r.seq !== expect) {
      gaps = true;
      ok = false;
      note(r.seq, `entries ${expect}–${r.seq - 1} missing`);
    } else if (r.prev !== (last?.hash ?? '')) {
      tampered = true;
      ok = false;
      note(r.seq, 'link broken: its previous hash is not the hash of the entry before');
    }
    if (entryHash(r.prev, r.at, r.actor, r.action, r.subject, r.sim, r.details) !== r.hash) {
      tampered = true;
      ok = false;
      note(r.seq, 'hash does not match the entry');
    }
    if (ok && !tampered && !gaps) {
      intactTo = { seq: r.seq, hash: r.hash };
      intactCount++;
    }
    last = { seq: r.seq, hash: r.hash };
  }
  return { problems, tampered, gaps, last, intactTo, intactCount, entries };
}
