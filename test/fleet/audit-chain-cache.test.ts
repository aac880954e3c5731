// The manager's check of a site's audit hash chain is cached: each request hashes only the entries that
// arrived since the last intact one. The faults it must still catch: an old entry edited in manager.db (caught
// at the next full walk), the last verified entry rewritten or deleted (caught at once), a gap, a broken link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openFleetDb, type FleetDb } from '../../src/fleet/fleet-db.js';
import {
  chainStats,
  checkSiteChain,
  checkSiteChainCached,
  CHAIN_FULL_EVERY_MS,
} from '../../src/fleet/aggregate-store.js';
import { entryHash } from '../../src/store/audit-store.js';

function append(db: FleetDb, site: string, from: number, to: number): void {
  const last = db
    .prepare('SELECT hash FROM fleet_audit WHERE site = ? AND seq = ?')
    .get(site, from - 1) as { hash: string } | undefined;
  let prev = last?.hash ?? '';
  const ins = db.prepare(
    `INSERT INTO fleet_audit (site, seq, at, actor, action, subject, simulation_id, details, prev_hash, hash,
       key_id, mac, received) VALUES (?, ?, ?, 'admin', 'x', ?, NULL, '{}', ?, ?, NULL, NULL, 0)`,
  );
  db.transaction(() => {
    for (let seq = from; seq <= to; seq++) {
      const at = `2026-11-27T10:00:${String(seq % 60).padStart(2, '0')}.000Z`;
      const hash = entryHash(prev, at, 'admin', 'x', `s${seq}`, null, '{}');
      ins.run(site, seq, at, `s${seq}`, prev, hash);
      prev = hash;
    }
  })();
}

const T0 = 1_000_000;

test('only entries new since the last check are hashed; the answer is the full walk’s', () => {
  const db = openFleetDb(':memory:');
  append(db, 'a', 1, 5000);
  append(db, 'b', 1, 10);
  const h0 = chainStats.hashed;
  const first = checkSiteChainCached(db, 'a', { now: T0 });
  assert.equal(first.status, 'intact');
  assert.equal(first.entries, 5000);
  assert.equal(chainStats.hashed - h0, 5000, 'the first check walks the chain once');
  const h1 = chainStats.hashed;
  assert.deepEqual(checkSiteChainCached(db, 'a', { now: T0 + 1000 }), first);
  assert.equal(chainStats.hashed - h1, 0, 'nothing new: nothing hashed');
  append(db, 'a', 5001, 5020);
  const h2 = chainStats.hashed;
  const more = checkSiteChainCached(db, 'a', { now: T0 + 2000 });
  assert.equal(chainStats.hashed - h2, 20, 'only the 20 new entries');
  assert.deepEqual(more, checkSiteChain(db, 'a'));
  assert.equal(more.entries, 5020);
  assert.equal(more.lastSeq, 5020);
  assert.equal(checkSiteChainCached(db, 'b', { now: T0 }).entries, 10, 'each site its own mark');
  assert.equal(checkSiteChainCached(db, 'nobody', { now: T0 }).status, 'empty');
});

test('an old entry edited in manager.db is caught at the next full walk, and stays caught', () => {
  const db = openFleetDb(':memory:');
  append(db, 'a', 1, 2000);
  assert.equal(checkSiteChainCached(db, 'a', { now: T0 }).status, 'intact');
  // Someone with write access to manager.db rewrites what entry 17 said (its stored hash left alone).
  db.prepare(
    "UPDATE fleet_audit SET subject = 'nothing happened' WHERE site = 'a' AND seq = 17",
  ).run();
  const later = T0 + CHAIN_FULL_EVERY_MS;
  const c = checkSiteChainCached(db, 'a', { now: later });
  assert.equal(c.status, 'tampered');
  assert.deepEqual(c.problems, [{ seq: 17, problem: 'hash does not match the entry' }]);
  assert.deepEqual(c, checkSiteChain(db, 'a'));
  // Cached afterwards: still reported on every request, not just once.
  assert.equal(checkSiteChainCached(db, 'a', { now: later + 1000 }).status, 'tampered');
  append(db, 'a', 2001, 2005);
  assert.equal(checkSiteChainCached(db, 'a', { now: later + 2000 }).status, 'tampered');

  // The edit with its hash recomputed too: the next entry's link breaks.
  const db2 = openFleetDb(':memory:');
  append(db2, 'a', 1, 100);
  checkSiteChainCached(db2, 'a', { now: T0 });
  const r = db2.prepare("SELECT * FROM fleet_audit WHERE site = 'a' AND seq = 40").get() as {
    at: string;
    prev_hash: string;
  };
  db2
    .prepare("UPDATE fleet_audit SET subject = 'edited', hash = ? WHERE site = 'a' AND seq = 40")
    .run(entryHash(r.prev_hash, r.at, 'admin', 'x', 'edited', null, '{}'));
  const c2 = checkSiteChainCached(db2, 'a', { now: T0 + CHAIN_FULL_EVERY_MS });
  assert.equal(c2.status, 'tampered');
  assert.match(c2.problems[0]!.problem, /link broken/);
  assert.equal(c2.problems[0]!.seq, 41);
});

test('the last verified entry rewritten or deleted is caught at once, not at the next full walk', () => {
  const db = openFleetDb(':memory:');
  append(db, 'a', 1, 300);
  checkSiteChainCached(db, 'a', { now: T0 });
  db.prepare(
    "UPDATE fleet_audit SET hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE site = 'a' AND seq = 300",
  ).run();
  assert.equal(checkSiteChainCached(db, 'a', { now: T0 + 1 }).status, 'tampered');

  const db2 = openFleetDb(':memory:');
  append(db2, 'a', 1, 300);
  checkSiteChainCached(db2, 'a', { now: T0 });
  db2.prepare("DELETE FROM fleet_audit WHERE site = 'a' AND seq >= 150").run();
  append(db2, 'a', 300, 310);
  const c = checkSiteChainCached(db2, 'a', { now: T0 + 1 });
  assert.equal(c.status, 'incomplete', 'the deleted stretch shows as missing at once');
  assert.deepEqual(c.problems, [{ seq: 300, problem: 'entries 150–299 missing' }]);
  assert.deepEqual(c, checkSiteChain(db2, 'a'));
});

test('a gap is incomplete until the missing entries arrive; then intact, hashing only what came', () => {
  const db = openFleetDb(':memory:');
  append(db, 'a', 1, 50);
  // 51–60 still on their way, 61–70 already here (out of order delivery).
  const full = openFleetDb(':memory:');
  append(full, 'a', 1, 70);
  const rows = full
    .prepare("SELECT * FROM fleet_audit WHERE site = 'a' AND seq > 50")
    .all() as Array<Record<string, unknown>>;
  const ins = db.prepare(
    `INSERT INTO fleet_audit (site, seq, at, actor, action, subject, simulation_id, details, prev_hash, hash,
       key_id, mac, received) VALUES (@site, @seq, @at, @actor, @action, @subject, @simulation_id, @details,
       @prev_hash, @hash, @key_id, @mac, @received)`,
  );
  for (const r of rows.filter((r) => (r.seq as number) > 60)) ins.run(r);
  const c = checkSiteChainCached(db, 'a', { now: T0 });
  assert.equal(c.status, 'incomplete');
  assert.deepEqual(c.problems, [{ seq: 61, problem: 'entries 51–60 missing' }]);
  for (const r of rows.filter((r) => (r.seq as number) <= 60)) ins.run(r);
  const h = chainStats.hashed;
  const d = checkSiteChainCached(db, 'a', { now: T0 + 1 });
  assert.equal(d.status, 'intact');
  assert.equal(d.entries, 70);
  assert.equal(chainStats.hashed - h, 20, 'the prefix 1–50 was not hashed again');
});
