import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { applyMigrations, openStore, SCHEMA_VERSION, schemaVersion } from '../../src/store/db.js';
import { weir } from '../helpers/weir-cli.js';

/** The schema today's main shipped with when packaging began: the "previous release" of the upgrade test. */
const PREVIOUS_RELEASE_SCHEMA = 12;

function storeAt(file: string, version: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  applyMigrations(db, version);
  // A row written at that schema, which the upgrade must keep.
  db.prepare(
    "INSERT INTO assets (id, mac, role, first_seen, last_seen, doc) VALUES ('10.0.0.5', '00:0e:8c:01:02:03', 'plc', 1, 2, '{\"id\":\"10.0.0.5\"}')",
  ).run();
  db.close();
  chmodSync(file, 0o600);
}

test('the export list and the code agree: the previous release schema is older than or equal to today', () => {
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
  assert.ok(PREVIOUS_RELEASE_SCHEMA <= SCHEMA_VERSION);
});

test('a store at the previous release schema opens and migrates in place, with a private backup taken first', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-upgrade-'));
  try {
    const file = path.join(dir, 'weir.db');
    storeAt(file, PREVIOUS_RELEASE_SCHEMA);
    const told: string[] = [];
    const db = openStore(file, { warn: (m) => told.push(m) });
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    const row = db.prepare("SELECT role FROM assets WHERE id = '10.0.0.5'").get() as {
      role: string;
    };
    assert.equal(row.role, 'plc');
    db.close();
    if (PREVIOUS_RELEASE_SCHEMA === SCHEMA_VERSION) {
      assert.deepEqual(told, []);
      return;
    }
    const copy = `${file}.schema-${PREVIOUS_RELEASE_SCHEMA}.bak`;
    assert.ok(existsSync(copy), readdirSync(dir).join(' '));
    assert.equal((statSync(copy).mode & 0o777).toString(8), '600');
    assert.match(
      told.join('\n'),
      new RegExp(`from schema ${PREVIOUS_RELEASE_SCHEMA} to ${SCHEMA_VERSION}`),
    );
    // The copy is the store as it was: the old schema, the row, whole.
    const old = new Database(copy, { readonly: true });
    assert.equal(
      (old.prepare('SELECT version FROM schema_version').get() as { version: number }).version,
      PREVIOUS_RELEASE_SCHEMA,
    );
    assert.equal((old.prepare('SELECT count(*) AS n FROM assets').get() as { n: number }).n, 1);
    assert.equal(old.pragma('integrity_check', { simple: true }), 'ok');
    old.close();
    // Opening again migrates nothing and copies nothing more.
    openStore(file, { warn: (m) => told.push(`again: ${m}`) }).close();
    assert.ok(!told.some((m) => m.startsWith('again')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every older schema upgrades (from each migration to the latest), each from a store built at that schema', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-upgrade-all-'));
  try {
    for (let v = 1; v < SCHEMA_VERSION; v++) {
      const file = path.join(dir, `v${v}.db`);
      storeAt(file, v);
      const db = openStore(file, { warn: () => undefined });
      assert.equal(schemaVersion(db), SCHEMA_VERSION, `from ${v}`);
      db.close();
      assert.ok(existsSync(`${file}.schema-${v}.bak`), `backup from ${v}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store newer than this code is refused untouched, with what to do (the CLI too)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-downgrade-'));
  try {
    const file = path.join(dir, 'weir.db');
    storeAt(file, SCHEMA_VERSION);
    const db = new Database(file);
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
    db.close();
    const before = readdirSync(dir).sort();
    assert.throws(
      () => openStore(file),
      (err: Error) =>
        err.message.includes(
          `schema version ${SCHEMA_VERSION + 1}, newer than this Weir understands (${SCHEMA_VERSION})`,
        ) &&
        /written by a newer release/.test(err.message) &&
        /weir restore/.test(err.message),
    );
    const r = await weir(['incidents', 'list', '--db', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /newer than this Weir understands/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, not a stack trace');
    const after = new Database(file, { readonly: true });
    assert.equal(
      (after.prepare('SELECT version FROM schema_version').get() as { version: number }).version,
      SCHEMA_VERSION + 1,
    );
    after.close();
    assert.deepEqual(
      readdirSync(dir)
        .sort()
        .filter((f) => f.endsWith('.bak')),
      before.filter((f) => f.endsWith('.bak')),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
