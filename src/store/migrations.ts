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
  // 3: policy as code and change control. The audit log is append-only (triggers refuse UPDATE and DELETE)
  // and hash-chained: each row's hash covers the previous row's, so a rewritten history shows.
  `
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    roles TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE policies (
    sha256 TEXT PRIMARY KEY,
    rules_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    text TEXT NOT NULL
  );
  CREATE TABLE active_policy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sha256 TEXT NOT NULL REFERENCES policies(sha256),
    proposal_id INTEGER,
    applied_at TEXT NOT NULL
  );
  CREATE TABLE simulations (
    id TEXT PRIMARY KEY,
    policy_sha256 TEXT NOT NULL,
    rules_sha256 TEXT NOT NULL,
    baseline_version INTEGER,
    created_at TEXT NOT NULL,
    captures TEXT NOT NULL,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    packets INTEGER NOT NULL,
    blocked_flows INTEGER NOT NULL,
    baseline_blocked INTEGER NOT NULL,
    zones TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX simulations_rules ON simulations(rules_sha256, created_at);
  CREATE TABLE proposals (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    zone TEXT,
    policy_sha256 TEXT NOT NULL REFERENCES policies(sha256),
    base_sha256 TEXT,
    required_roles TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    note TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE TABLE approvals (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL,
    UNIQUE (proposal_id, role),
    UNIQUE (proposal_id, user)
  );
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    simulation_id TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
  CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    WHEN NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '')
    BEGIN SELECT RAISE(ABORT, 'audit log chain broken: prev_hash is not the last hash'); END;
  `,
  // 4: the web server: local passwords (scrypt) and sessions (only a hash of each token is stored).
  `
  ALTER TABLE users ADD COLUMN password_hash TEXT;
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL
  );
  CREATE INDEX sessions_expiry ON sessions(expires_at);
  CREATE INDEX detections_status ON detections(status, severity);
  CREATE INDEX detections_src ON detections(src);
  CREATE INDEX detections_dst ON detections(dst);
  -- Covers the map's per-pair roll-up, so it never sorts the whole edge table.
  CREATE INDEX edges_pair ON edges(client, server, packets, protocol, transport, port);
  -- Traffic per zone and minute, in / out / within, for the flows chart.
  CREATE TABLE traffic (
    bucket REAL NOT NULL,
    zone TEXT NOT NULL,
    direction TEXT NOT NULL,
    packets INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (bucket, zone, direction)
  );
  `,
  // 5: a session is bound to its user's roles and password hash at login (sha256 of both), so a password
  // reset or a change of roles ends it, whichever tool made the change. Sessions from before cannot be bound.
  `
  ALTER TABLE sessions ADD COLUMN user_sig TEXT;
  DELETE FROM sessions;
  CREATE INDEX sessions_user ON sessions(user);
  `,
  // 6: what bounds cut short while reading a capture (anomaly kinds, TCP state, assets and edges not tracked).
  `
  ALTER TABLE captures ADD COLUMN capped TEXT NOT NULL DEFAULT '{}';
  `,
  // 7: the audit log is keyed: each entry carries an HMAC (key kept outside the database, see audit-key.ts)
  // and the id of the key that made it. Entries written before keying keep NULL in both.
  `
  ALTER TABLE audit_log ADD COLUMN key_id TEXT;
  ALTER TABLE audit_log ADD COLUMN mac TEXT;
  `,
  // 8: SIEM export. A queue of events in order (seq), each once (id), what was last exported per detection or
  // incident (marks), and per destination the last event sent and the last one known delivered.
  `
  CREATE TABLE export_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE TABLE export_marks (
    subject TEXT PRIMARY KEY,
    updates INTEGER NOT NULL,
    count INTEGER NOT NULL,
    severity TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT
  );
  CREATE TABLE export_sinks (
    name TEXT PRIMARY KEY,
    sent_seq INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    last_error TEXT,
    owner TEXT,
    lease_until REAL
  );
  `,
  // 9: what pre-approved playbooks did (or, simulating, would have done), each with the detection that caused it,
  // the playbook and policy version, and who undid it. The audit log holds the same facts, hash-chained.
  `
  CREATE TABLE playbook_actions (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    zone TEXT NOT NULL,
    playbook TEXT NOT NULL,
    policy_sha TEXT NOT NULL,
    mode TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    ttl_s INTEGER,
    expires_at REAL,
    detection_id TEXT NOT NULL,
    detection_type TEXT NOT NULL,
    detection_ts REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    details TEXT NOT NULL,
    undone_by TEXT,
    undone_at TEXT
  );
  CREATE INDEX playbook_actions_rate ON playbook_actions(zone, playbook, at);
  CREATE INDEX playbook_actions_at ON playbook_actions(at);
  `,
  // 10: offline vulnerability advisories (CSAF 2.0): one row per advisory with the parsed record in doc, and its
  // affected products by vendor so matching and the dashboard can find them without reading every document.
  `
  CREATE TABLE advisories (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    publisher TEXT NOT NULL,
    revision TEXT NOT NULL,
    initial_release TEXT,
    current_release TEXT,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    cves TEXT NOT NULL,
    max_cvss REAL,
    doc TEXT NOT NULL
  );
  CREATE INDEX advisories_release ON advisories(current_release);
  CREATE TABLE advisory_products (
    advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    vendor_key TEXT,
    name TEXT NOT NULL,
    version TEXT,
    order_numbers TEXT NOT NULL,
    PRIMARY KEY (advisory_id, product_id)
  );
  CREATE INDEX advisory_products_vendor ON advisory_products(vendor_key);
  `,
  // 11: signed offline bundles: the publishers' public keys the store trusts, every bundle imported (its
  // sequence refuses rollbacks), and the knowledge items they carried (OUI table, ATT&CK, vendor ids, rules).
  `
  CREATE TABLE trusted_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
  );
  CREATE TABLE bundles (
    sequence INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    publisher TEXT NOT NULL,
    created TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    items TEXT NOT NULL
  );
  CREATE TABLE knowledge (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bundle_sequence INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (kind, name)
  );
  `,
  // 12: incidents: detections correlated into cases (one actor or one target under attack). The full incident is
  // the doc; the link table finds a detection's incident. Status and notes are the analysts' (audited).
  `
  CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    updated_at TEXT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX incidents_open ON incidents(status, last_seen);
  CREATE INDEX incidents_last_seen ON incidents(last_seen);
  CREATE INDEX incidents_updated ON incidents(updated_at);
  CREATE TABLE incident_detections (
    detection_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE
  );
  CREATE INDEX incident_detections_incident ON incident_detections(incident_id);
  `,
  // 13: a simulation names the baseline it was judged against by its content, not only its version number
  // (another store's v1 is not this store's v1): change control counts only evidence against the current one.
  `
  ALTER TABLE simulations ADD COLUMN baseline_sha256 TEXT;
  `,
  // 14: when each person was given each role they hold (JSON: role → ISO time), so an approval counts only from
  // an account that held its role when the proposal was made. Accounts from before count from their creation.
  `
  ALTER TABLE users ADD COLUMN roles_at TEXT;
  `,
  // 15: who last set each password and when (an approval counts only from a password its holder set, review 14
  // C2), filled from the audit log for passwords set before; and the change-control rules an admin sets in the
  // store, audited, instead of each caller's settings file (review 14 C1).
  `
  ALTER TABLE users ADD COLUMN password_set_by TEXT;
  ALTER TABLE users ADD COLUMN password_set_at TEXT;
  UPDATE users SET (password_set_by, password_set_at) = (
    SELECT actor, at FROM audit_log
    WHERE subject = users.name AND action IN ('user.added', 'user.password_reset', 'user.password_set', 'user.password_changed')
    ORDER BY seq DESC LIMIT 1
  ) WHERE password_hash IS NOT NULL;
  CREATE TABLE change_rules (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL
  );
  `,
  // 16: the last time someone other than its holder set each password, kept apart from the last setter: a
  // holder's own change after a reset must not hide that the proposal's author reset it (review 14b F1: reset,
  // log in as the approver, "set your own", approve). Filled from the audit log.
  `
  ALTER TABLE users ADD COLUMN password_reset_by TEXT;
  ALTER TABLE users ADD COLUMN password_reset_at TEXT;
  UPDATE users SET (password_reset_by, password_reset_at) = (
    SELECT actor, at FROM audit_log
    WHERE subject = users.name AND actor <> users.name
      AND action IN ('user.added', 'user.password_reset', 'user.password_set')
    ORDER BY seq DESC LIMIT 1
  );
  `,
];
