import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCapture } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { openStore } from '../../src/store/db.js';
import { loadInventory, mergeInventory } from '../../src/store/inventory-store.js';
import { sharedCapture } from '../helpers/paths.js';

async function run(inv: Inventory, f: string): Promise<void> {
  const p = new DissectPipeline({
    onPacket: (x) => inv.onPacket(x),
    onMessage: (m) => inv.onMessage(m),
  });
  await readCapture(f, (fr) => p.push(fr));
}

test('inventory round-trips through SQLite and accumulates across runs', async (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!f) return t.skip('capture missing');
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-store-'));
  try {
    const dbPath = path.join(dir, 'w.db');
    const inv = new Inventory();
    await run(inv, f);
    const snap = inv.snapshot();
    let db = openStore(dbPath);
    mergeInventory(db, inv.takeDelta());
    db.close();

    db = openStore(dbPath);
    const loaded = loadInventory(db);
    assert.deepEqual(
      loaded.assets.map((a) => a.id),
      snap.assets.map((a) => a.id),
    );
    assert.equal(loaded.edges.length, snap.edges.length);
    assert.deepEqual(
      loaded.assets.map((a) => a.role),
      snap.assets.map((a) => a.role),
      'roles inferred in the store as in memory',
    );
    // The same capture again is a second observation period: counts add up, no twin edges.
    const inv2 = new Inventory();
    await run(inv2, f);
    mergeInventory(db, inv2.takeDelta());
    const again = loadInventory(db);
    assert.equal(again.edges.length, snap.edges.length, 'same edges, not twins');
    const total = (s: typeof snap) => s.edges.reduce((n, e) => n + e.packets, 0);
    assert.equal(total(again), 2 * total(snap));
    const fsum = (s: typeof snap) =>
      s.edges.reduce((n, e) => n + e.functions.reduce((m, x) => m + x.count, 0), 0);
    assert.equal(fsum(again), 2 * fsum(snap));
    const row = db.prepare('SELECT role FROM assets WHERE id = ?').get('10.10.20.8') as {
      role: string;
    };
    assert.equal(row.role, 'rtu');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the store refuses a schema newer than this build', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-store-'));
  try {
    const p = path.join(dir, 'w.db');
    const db = openStore(p);
    db.prepare('UPDATE schema_version SET version = 999').run();
    db.close();
    assert.throws(() => openStore(p), /newer than this Weir/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
