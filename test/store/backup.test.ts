import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, SCHEMA_VERSION } from '../../src/store/db.js';
import { checkStoreFile, restoreStore } from '../../src/store/backup.js';
import { weir } from '../helpers/weir-cli.js';
import { repoRoot } from '../helpers/paths.js';

const count = (file: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM assets').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

/** Another process writing the store as fast as it can, as a server following live traffic does. */
function writer(file: string) {
  const script = `
    const Database = require(${JSON.stringify(path.join(repoRoot, 'node_modules/better-sqlite3'))});
    const db = new Database(${JSON.stringify(file)});
    db.pragma('busy_timeout = 5000');
    const ins = db.prepare("INSERT INTO assets (id, role, first_seen, last_seen, doc) VALUES (?, 'plc', 1, 2, ?)");
    let i = 0;
    const pad = 'x'.repeat(2000);
    process.stdout.write('started\\n');
    const tick = () => { for (let k = 0; k < 50; k++, i++) ins.run('a' + i, pad); setImmediate(tick); };
    tick();
    process.on('SIGTERM', () => { db.close(); process.stdout.write('wrote ' + i + '\\n'); process.exit(0); });
  `;
  const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const started = new Promise<void>((resolve) =>
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('started')) resolve();
    }),
  );
  const stop = () =>
    new Promise<number>((resolve) => {
      c.on('close', () => resolve(Number(/wrote ([0-9]+)/.exec(out)?.[1] ?? -1)));
      c.kill('SIGTERM');
    });
  return { started, stop };
}

test('weir backup copies a store while another process keeps writing it: whole, consistent, private', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-backup-'));
  try {
    const file = path.join(dir, 'weir.db');
    openStore(file).close();
    const w = writer(file);
    await w.started;
    await new Promise((r) => setTimeout(r, 300));
    const copies: number[] = [];
    for (const n of [1, 2, 3]) {
      const to = path.join(dir, `b${n}.db`);
      const r = await weir(['backup', '--db', file, '--to', to]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`schema ${SCHEMA_VERSION}, checked`));
      assert.match(r.stderr, /audit key .* not in the copy/);
      assert.equal((statSync(to).mode & 0o777).toString(8), '600');
      assert.equal(checkStoreFile(to).schema, SCHEMA_VERSION);
      copies.push(count(to));
    }
    const written = await w.stop();
    assert.ok(written > 0);
    // Each copy is a snapshot: growing, never more than what was written, never torn (the check above).
    assert.ok(copies[0]! > 0, `${copies}`);
    assert.ok(copies[0]! <= copies[1]! && copies[1]! <= copies[2]!, `${copies}`);
    assert.ok(copies[2]! <= written);
    // A backup never overwrites.
    const again = await weir(['backup', '--db', file, '--to', path.join(dir, 'b1.db')]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /exists already/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weir restore puts a backup in place, keeps the replaced store, records it, and refuses an open store', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-restore-'));
  try {
    const file = path.join(dir, 'weir.db');
    const db = openStore(file);
    db.prepare(
      "INSERT INTO assets (id, role, first_seen, last_seen, doc) VALUES ('10.0.0.1', 'plc', 1, 2, '{}')",
    ).run();
    db.close();
    const bak = path.join(dir, 'before.db');
    assert.equal((await weir(['backup', '--db', file, '--to', bak])).code, 0);
    const db2 = openStore(file);
    db2
      .prepare(
        "INSERT INTO assets (id, role, first_seen, last_seen, doc) VALUES ('10.0.0.2', 'hmi', 1, 2, '{}')",
      )
      .run();
    // Open in this process: the restore must refuse while it is.
    assert.throws(
      () => restoreStore(bak, file, { holders: () => [4242] }),
      /open in process 4242: stop it first/,
    );
    db2.close();
    const r = await weir(['restore', '--from', bak, '--db', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored .* kept as .*before-restore-/);
    assert.equal(count(file), 1);
    const kept = /kept as (\S+)/.exec(r.stdout)![1]!;
    assert.equal(count(kept), 2, 'nothing of the replaced store is lost');
    assert.equal((statSync(file).mode & 0o777).toString(8), '600');
    const after = new Database(file, { readonly: true });
    const last = after
      .prepare('SELECT actor, action FROM audit_log ORDER BY seq DESC LIMIT 1')
      .get() as {
      actor: string;
      action: string;
    };
    after.close();
    assert.equal(last.action, 'store.restored');
    assert.match(last.actor, /^os:/);
    // Not a store, or garbage: refused, nothing replaced.
    const junk = path.join(dir, 'junk.db');
    writeFileSync(junk, 'not a database at all'.repeat(100));
    const bad = await weir(['restore', '--from', junk, '--db', file]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not a (readable )?SQLite database|damaged/);
    assert.equal(count(file), 1);
    assert.ok(!existsSync(`${file}.restoring`));
    assert.ok(readFileSync(file).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a running process holding the store is found from /proc', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-holders-'));
  try {
    const file = path.join(dir, 'weir.db');
    openStore(file).close();
    const w = writer(file);
    await w.started;
    const bak = path.join(dir, 'b.db');
    assert.equal((await weir(['backup', '--db', file, '--to', bak])).code, 0);
    const r = await weir(['restore', '--from', bak, '--db', file]);
    await w.stop();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is open in process [0-9]+: stop it first/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('root restoring the service store gives every file of it back to the folder owner (the weir user)', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to change owners');
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-restore-own-'));
  try {
    const file = path.join(dir, 'weir.db');
    openStore(file).close();
    const bak = path.join(dir, 'b.db');
    assert.equal((await weir(['backup', '--db', file, '--to', bak])).code, 0);
    chownSync(dir, 65534, 65534); // the folder belongs to the service account
    const r = await weir(['restore', '--from', bak, '--db', file]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of readdirSync(dir).filter((n) => n.startsWith('weir.db')))
      assert.equal(statSync(path.join(dir, f)).uid, 65534, f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
