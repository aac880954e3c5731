/**
 * Schema migrations, applied in order once each. Never edit a shipped entry: append a new one.
 * Rows keep the full record as JSON in `doc` and the fields people filter on as columns.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    mac TEXT,
    mac_vendor TEXT,
    role TEXT NOT NULL,
    vendor TEXT,
    product TEXT,
    firmware TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX assets_role ON assets(role);
  CREATE INDEX assets_mac ON assets(mac);
  CREATE TABLE edges (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    server TEXT NOT NULL,
    transport TEXT NOT NULL,
    port INTEGER NOT NULL,
    protocol TEXT NOT NULL,
    packets INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    poll_interval REAL,
    doc TEXT NOT NULL
  );
  CREATE INDEX edges_client ON edges(client);
  CREATE INDEX edges_server ON edges(server);
  CREATE INDEX edges_protocol ON edges(protocol);
  CREATE TABLE captures (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    format TEXT,
    frames INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    first_ts REAL,
    last_ts REAL,
    error TEXT,
    anomalies TEXT NOT NULL
  );
  `,
  `
  CREATE TABLE baselines (
    version INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    note TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE TABLE detections (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    count INTEGER NOT NULL,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    protocol TEXT NOT NULL,
    zone TEXT,
    baseline_version INTEGER,
    status TEXT NOT NULL DEFAULT 'open',
    doc TEXT NOT NULL
  );
  CREATE INDEX detections_ts ON detections(ts);
  CREATE INDEX detections_type ON detections(type);
  CREATE TABLE mutes (
    id INTEGER PRIMARY KEY,
    type TEXT,
    src TEXT,
    dst TEXT,
    detail TEXT,
    until REAL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
];
