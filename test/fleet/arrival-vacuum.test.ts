// The manager picks a site's newest health record, and the ledger prune keeps it, by arrival: the rowid of
// fleet_records (id TEXT PRIMARY KEY, so no INTEGER PRIMARY KEY aliases it). SQLite documents that VACUUM may
// change such rowids; this pins what it does with a real VACUUM of a real file: the table has indexes, so VACUUM
// copies it with its rowids (the transfer optimisation), and arrival order survives. Ids are made to sort against
// arrival, so a rebuild that renumbered by the primary key would be caught here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openFleetDb, type FleetDb } from '../../src/fleet/fleet-db.js';
import { newestHealth } from '../../src/fleet/site-view.js';
import { pruneLedger } from '../../src/fleet/ingest.js';

const NOW = 1_800_000_000_000;

function put(db: FleetDb, id: string, kind: string, seq: number, at: number): void {
  db.prepare(
    "INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, 'a', ?, '{}', ?, ?, ?)",
  ).run(id, kind, seq, at, at + 1);
}

const rows = (db: FleetDb): Array<{ r: number; id: string }> =>
  db.prepare('SELECT rowid AS r, id FROM fleet_records ORDER BY rowid').all() as Array<{
    r: number;
    id: string;
  }>;

test('a real VACUUM of manager.db keeps arrival order: the newest health record and the prune are unchanged', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-fleet-vacuum-'));
  const file = path.join(dir, 'manager.db');
  try {
    let db = openFleetDb(file);
    // Ids sorting backwards against arrival; the made times too (a site clock that jumped back): only arrival
    // tells which health record came last. Detections between them, some pruned, leave holes in the rowids.
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) {
        const tag = String(99_999 - i).padStart(5, '0');
        put(db, `${tag}:d`, 'detection', 2 * i + 1, NOW - i);
        if (i % 100 === 0) put(db, `${tag}:h`, 'health', 2 * i + 2, NOW - i);
      }
    })();
    assert.ok(pruneLedger(db, 'a', 2000) > 0);
    const before = rows(db);
    const newest = newestHealth(db, 'a');
    assert.deepEqual(newest, { made: NOW - 1900, received: NOW - 1899 });
    db.close();
    db = openFleetDb(file);
    db.exec('VACUUM');
    db.close();
    db = openFleetDb(file);
    assert.deepEqual(rows(db), before);
    assert.deepEqual(newestHealth(db, 'a'), newest);
    // A record arriving after the VACUUM is the newest, and the next prune keeps it alone of the health rows.
    put(db, '00000:h', 'health', 9000, NOW - 5000);
    assert.deepEqual(newestHealth(db, 'a'), { made: NOW - 5000, received: NOW - 4999 });
    pruneLedger(db, 'a', 9000);
    assert.deepEqual(db.prepare("SELECT id FROM fleet_records WHERE kind = 'health'").all(), [
      { id: '00000:h' },
    ]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
