/**
 * The fleet's own tables, in a file of their own next to the store (manager.db on the manager, node.db on a
 * site): the site's outbox and what it applied, the manager's ingested records and sites. Kept apart from the
 * store's migrations so a plant that never runs a fleet carries none of it.
 */
import Database from 'better-sqlite3';
import { closeSync, constants, openSync } from 'node:fs';

export type FleetDb = Database.Database;

/**
 * The manager's ledger of site records. `arrival` orders them as they came (the newest health record of a site,
 * the prune); as the INTEGER PRIMARY KEY it is the rowid itself, so no VACUUM or rebuild renumbers it (SQLite
 * keeps other tables' rowids only as an implementation detail). Queries say `rowid`: that reads a ledger not yet
 * rebuilt (keepArrivalOrder) the same way.
 */
const FLEET_RECORDS_COLUMNS = `
  arrival INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  site TEXT NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  stream_seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  received INTEGER NOT NULL
`;
const FLEET_RECORDS_INDEXES = `
CREATE INDEX IF NOT EXISTS fleet_records_site ON fleet_records (site, kind, received);
-- A site's newest record of a kind by arrival (the rowid, the index's implied last column): one search, no sort.
CREATE INDEX IF NOT EXISTS fleet_records_arrival ON fleet_records (site, kind);
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_cursor (one INTEGER PRIMARY KEY CHECK (one = 1), acked INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state_applied (
  kind TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  digest TEXT NOT NULL,
  body TEXT NOT NULL,
  -- What of body the site holds in force when less than all of it (a blocklist less the entries it refused).
  held TEXT,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  version INTEGER,
  revision INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
);
-- A verified document the site could not put into force (refused as not-applied), newest per kind: tried again.
CREATE TABLE IF NOT EXISTS state_retry (
  kind TEXT PRIMARY KEY,
  revision INTEGER NOT NULL,
  value BLOB NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  due INTEGER NOT NULL
);
-- What documents refused as not-applied put in force before they failed (blocks, permits), beyond state_applied:
-- the next version of the kind lifts and revokes against it too; cleared when a version of the kind applies.
CREATE TABLE IF NOT EXISTS state_partial (kind TEXT PRIMARY KEY, held TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state_cursor (one INTEGER PRIMARY KEY CHECK (one = 1), revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_records (${FLEET_RECORDS_COLUMNS});
${FLEET_RECORDS_INDEXES}
CREATE TABLE IF NOT EXISTS fleet_sites (
  site TEXT PRIMARY KEY,
  last_seen INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  records INTEGER NOT NULL,
  health TEXT
);
-- Per site, its newest record (by its own time, as fleet_sites.last_at): how long it had waited on the site when
-- sent (the site's clock alone) and when the hub stored it (the manager's side): its lag without either clock's
-- offset. Only records stamped when sent (SENT_HEADER) count; without, the lag reads the two clocks as one.
CREATE TABLE IF NOT EXISTS fleet_lag (
  site TEXT PRIMARY KEY,
  at INTEGER NOT NULL,
  age INTEGER NOT NULL,
  stored INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet_state (kind TEXT PRIMARY KEY, version INTEGER NOT NULL, at INTEGER NOT NULL);
-- Site side: what the site publisher last sent of each asset, edge and incident, and how far it has read.
CREATE TABLE IF NOT EXISTS pub_items (
  type TEXT NOT NULL,
  key TEXT NOT NULL,
  digest TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (type, key)
);
CREATE TABLE IF NOT EXISTS pub_marks (type TEXT PRIMARY KEY, mark TEXT NOT NULL);
-- Manager side: every site's assets, edges and incidents (newest version wins), its audit chain verbatim, and
-- what was refused.
CREATE TABLE IF NOT EXISTS fleet_items (
  site TEXT NOT NULL,
  type TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  doc TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (site, type, key)
);
CREATE INDEX IF NOT EXISTS fleet_items_type ON fleet_items (type, site);
CREATE TABLE IF NOT EXISTS fleet_audit (
  site TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  simulation_id TEXT,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  key_id TEXT,
  mac TEXT,
  received INTEGER NOT NULL,
  PRIMARY KEY (site, seq)
);
CREATE TABLE IF NOT EXISTS fleet_rejects (
  site TEXT NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  n INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (site, kind, reason)
);
-- Manager side: per site, what waits in the stream (held), how often its rate held it back (throttled), and
-- whether a kind of its records is at the stream's bound (the hub refuses more; they wait in its outbox).
CREATE TABLE IF NOT EXISTS fleet_intake (
  site TEXT PRIMARY KEY,
  held INTEGER NOT NULL,
  throttled INTEGER NOT NULL,
  at_bound TEXT,
  bound_seen INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet_marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

export function openFleetDb(file: string): FleetDb {
  if (file !== ':memory:') {
    try {
      closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL: a record the manager acknowledged to JetStream, or a site's outbox entry, survives a power cut too.
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  // A node.db made before state_applied.held: the column is added (null: as before, the whole body).
  if (
    db.prepare("SELECT 1 FROM pragma_table_info('state_applied') WHERE name = 'held'").get() ===
    undefined
  )
    try {
      db.exec('ALTER TABLE state_applied ADD COLUMN held TEXT');
    } catch (e) {
      // Another process (the node runtime, a `weir fleet` command) opening the same old store added it first.
      if (!/duplicate column name/.test((e as Error).message)) throw e;
    }
  return db;
}

/**
 * A manager.db made before `arrival` (fleet_records keyed by its text id, arrival only in the implicit rowid) is
 * rebuilt once with each row's rowid as its arrival: the order stays exactly as it was, and from then on is
 * declared. In one transaction; the manager runs it as it starts (readers work on either form). True if rebuilt.
 */
export function keepArrivalOrder(db: FleetDb): boolean {
  const has = db.prepare("SELECT 1 FROM pragma_table_info('fleet_records') WHERE name = 'arrival'");
  if (has.get() !== undefined) return false;
  db.transaction(() => {
    db.exec(`CREATE TABLE fleet_records_rebuilt (${FLEET_RECORDS_COLUMNS});
      INSERT INTO fleet_records_rebuilt (arrival, id, site, kind, body, stream_seq, at, received)
        SELECT rowid, id, site, kind, body, stream_seq, at, received FROM fleet_records;
      DROP TABLE fleet_records;
      ALTER TABLE fleet_records_rebuilt RENAME TO fleet_records;
      ${FLEET_RECORDS_INDEXES}`);
  }).immediate();
  return true;
}
