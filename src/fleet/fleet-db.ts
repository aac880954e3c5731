/**
 * The fleet's own tables, in a file of their own next to the store (manager.db on the manager, node.db on a
 * site): the site's outbox and what it applied, the manager's ingested records and sites. Kept apart from the
 * store's migrations so a plant that never runs a fleet carries none of it.
 */
import Database from 'better-sqlite3';
import { closeSync, constants, openSync } from 'node:fs';

export type FleetDb = Database.Database;

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
CREATE TABLE IF NOT EXISTS state_cursor (one INTEGER PRIMARY KEY CHECK (one = 1), revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_records (
  id TEXT PRIMARY KEY,
  site TEXT NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  stream_seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  received INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fleet_records_site ON fleet_records (site, kind, received);
-- A site's newest record of a kind by arrival (rowid, the index's implied last column): one search, no sort.
CREATE INDEX IF NOT EXISTS fleet_records_arrival ON fleet_records (site, kind);
CREATE TABLE IF NOT EXISTS fleet_sites (
  site TEXT PRIMARY KEY,
  last_seen INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  records INTEGER NOT NULL,
  health TEXT
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
  return db;
}
