// "A site's newest health record" on the manager: found per site through an index (the Sites page read it by
// scanning every record, growing without bound as detections accumulate), and newest by arrival, not by stream
// sequence (a recreated JetStream stream restarts its numbering: the old high row stayed "newest" and the prune
// deleted the new ones).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openFleetDb, type FleetDb } from '../../src/fleet/fleet-db.js';
import { NEWEST_HEALTH_SQL, newestHealth, readFleetView } from '../../src/fleet/site-view.js';
import { pruneLedger } from '../../src/fleet/ingest.js';

const NOW = 1_800_000_000_000;

function put(db: FleetDb, id: string, site: string, kind: string, seq: number, at: number): void {
  db.prepare(
    'INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(id, site, kind, '{}', seq, at, at + 1);
}

test('the newest health record per site: no full scan of fleet_records, and right among many records', () => {
  const db = openFleetDb(':memory:');
  const site = db.prepare(
    'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
  );
  const fill = db.transaction(() => {
    for (const s of ['a', 'b', 'c']) {
      site.run(s, NOW, NOW, 1, JSON.stringify({ pending: 0, capture: { program: 'tcpdump' } }));
      for (let i = 0; i < 20_000; i++) put(db, `${s}:d${i}`, s, 'detection', i * 2, NOW - 1e6 + i);
      for (let i = 0; i < 50; i++) put(db, `${s}:h${i}`, s, 'health', 40_001 + i, NOW - 5000 + i);
    }
  });
  fill();
  db.exec('ANALYZE');
  const plan = (
    db.prepare(`EXPLAIN QUERY PLAN ${NEWEST_HEALTH_SQL}`).all('a') as Array<{ detail: string }>
  ).map((r) => r.detail);
  assert.ok(plan.length > 0);
  for (const d of plan) {
    assert.doesNotMatch(d, /^SCAN/, plan.join('; '));
    assert.doesNotMatch(d, /TEMP B-TREE/, plan.join('; '));
  }
  assert.match(plan.join('; '), /SEARCH fleet_records USING (COVERING )?INDEX/);
  assert.deepEqual(newestHealth(db, 'b'), { made: NOW - 5000 + 49, received: NOW - 5000 + 50 });
  assert.equal(newestHealth(db, 'none'), null);
  const v = readFleetView(db, NOW);
  assert.deepEqual(
    v.sites.map((s) => s.name),
    ['a', 'b', 'c'],
  );
  db.close();
});

test('a recreated stream restarts its sequence numbers: the newest health record is the one that came last', () => {
  const db = openFleetDb(':memory:');
  put(db, 'a:old', 'a', 'health', 9000, NOW - 60_000);
  // The stream was recreated (data dir lost): numbering starts again at 1.
  put(db, 'a:new1', 'a', 'health', 1, NOW - 2000);
  put(db, 'a:new2', 'a', 'health', 2, NOW - 1000);
  assert.deepEqual(newestHealth(db, 'a'), { made: NOW - 1000, received: NOW - 999 });
  // The prune at an ack floor of 2 keeps that newest one; the old row's sequence is past the floor and stays.
  pruneLedger(db, 'a', 2);
  const left = (
    db.prepare("SELECT id FROM fleet_records WHERE site = 'a' ORDER BY id").all() as Array<{
      id: string;
    }>
  ).map((r) => r.id);
  assert.deepEqual(left, ['a:new2', 'a:old']);
  // Aggregated kinds at or below the floor go; other sites are untouched.
  put(db, 'a:inv', 'a', 'inventory', 2, NOW);
  put(db, 'a:det', 'a', 'detection', 2, NOW);
  put(db, 'b:h', 'b', 'health', 1, NOW);
  put(db, 'b:h2', 'b', 'health', 2, NOW);
  assert.equal(pruneLedger(db, 'a', 2), 1);
  const all = (
    db.prepare('SELECT id FROM fleet_records ORDER BY id').all() as Array<{ id: string }>
  ).map((r) => r.id);
  assert.deepEqual(all, ['a:det', 'a:new2', 'a:old', 'b:h', 'b:h2']);
  db.close();
});
