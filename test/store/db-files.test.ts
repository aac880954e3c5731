import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { repoRoot } from '../helpers/paths.js';

const mode = (f: string) => statSync(f).mode & 0o777;
const files = (db: string) => [db, `${db}-wal`, `${db}-shm`];

test('a new store, its WAL and shared-memory files are created 0600, even under a permissive umask', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-dbfiles-'));
  const old = process.umask(0o002);
  try {
    const file = path.join(dir, 'weir.db');
    const db = openStore(file);
    db.prepare(
      "INSERT INTO users (name, roles, created_at, password_hash) VALUES ('a', '[]', 'now', 'scrypt$secret')",
    ).run();
    for (const f of files(file)) {
      assert.ok(existsSync(f), f);
      assert.equal(mode(f).toString(8), '600', f);
    }
    db.close();
    // The CLI too: a store made by `weir discover --db`.
    const cliFile = path.join(dir, 'cli.db');
    execFileSync(
      process.execPath,
      [
        path.join(repoRoot, 'dist/src/cli/main.js'),
        'discover',
        path.join(repoRoot, 'fixtures/plant.pcap'),
        '--db',
        cliFile,
      ],
      { stdio: 'ignore' },
    );
    assert.equal(mode(cliFile).toString(8), '600');
  } finally {
    process.umask(old);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an existing store readable by others is tightened to 0600, with a warning', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-dbfiles-'));
  try {
    const file = path.join(dir, 'weir.db');
    openStore(file).close();
    for (const f of files(file)) if (!existsSync(f)) writeFileSync(f, '');
    for (const f of files(file)) chmodSync(f, 0o644);
    const warnings: string[] = [];
    const db = openStore(file, { warn: (m) => warnings.push(m) });
    for (const f of files(file)) if (existsSync(f)) assert.equal(mode(f).toString(8), '600', f);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /could be read by other users.*now 0600/);
    db.close();
    const again: string[] = [];
    openStore(file, { warn: (m) => again.push(m) }).close();
    assert.deepEqual(again, [], 'no warning once tight');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
