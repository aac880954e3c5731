// The site filter on the dashboard's routes, over a manager.db the site publisher and the aggregate filled
// (no NATS here: the transport is aggregate.test.ts). One site's rows only; '*' merges with a site column;
// addresses repeated across sites stay apart; a broken audit chain is reported; no fleet, no filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { AggregateStore } from '../../src/fleet/aggregate-store.js';
import { Outbox } from '../../src/fleet/outbox.js';
import { SitePublisher } from '../../src/fleet/site-publisher.js';
import { openStore } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { addUsers, freshStore, injectLogin } from '../server/fixture.js';
import { tempDir } from './fleet-kit.js';
import { asset, putAsset, seedSite } from './site-store-kit.js';
import { carry } from './carry-kit.js';

test('the site filter on assets, map, incidents, audit, detections and overview', async () => {
  const fleetDir = tempDir('route-fleet');
  mkdirSync(fleetDir, { recursive: true });
  const mgrFile = path.join(fleetDir, 'manager.db');
  carry('north', (db) => seedSite(db, 'north', 3, 3), mgrFile);
  // South reuses north's address plan: 10.1.0.10 exists at both.
  carry(
    'south',
    (db) => {
      seedSite(db, 'south', 2, 1);
      putAsset(db, asset('10.1.0.10', 'south-twin'));
    },
    mgrFile,
  );
  // Someone edits south's chain at the manager: the check says so.
  const m = openFleetDb(mgrFile);
  // A site sending documents of odd shapes: odd rows, never a page that fails to render.
  const odd = new AggregateStore(m);
  odd.take(
    'odd',
    'inventory',
    {
      type: 'asset',
      key: '10.5.0.1',
      version: 1,
      doc: { ips: 5, identity: [1], hostnames: 'x', role: 7 },
    },
    0,
  );
  odd.take(
    'odd',
    'inventory',
    { type: 'edge', key: 'e', version: 1, doc: { client: 1, server: {} } },
    0,
  );
  odd.take(
    'odd',
    'incident',
    { type: 'incident', key: 'i', version: 1, doc: { title: {}, tactics: 'x', lastSeen: 'y' } },
    0,
  );
  m.prepare("UPDATE fleet_audit SET actor = 'mallory' WHERE site = 'south' AND seq = 1").run();
  m.close();

  const { dir, db } = freshStore('weir-site-filter-');
  await addUsers(db, [['vera', ['viewer']]]);
  const app = await buildServer({ db, fleetDir });
  const noFleet = await buildServer({ db });
  try {
    const cookie = await injectLogin(app, 'vera');
    const get = async (url: string, a = app) => {
      const r = await a.inject({ url, headers: { cookie } });
      return {
        code: r.statusCode,
        body: r.json() as Record<string, unknown> & { items: Array<Record<string, unknown>> },
      };
    };
    const north = await get('/api/assets?site=north');
    assert.equal(north.code, 200);
    assert.equal(north.body.total, 3);
    assert.ok(north.body.items.every((a) => a.site === 'north'));
    const all = await get('/api/assets?site=*&q=10.1.0.10');
    assert.deepEqual(
      all.body.items.map((a) => `${String(a.site)} ${(a.hostnames as string[])[0]}`),
      ['north north-plc-0', 'south south-twin'],
      'the same address at two sites: two assets, each with its site',
    );
    const map = await get('/api/map?site=*');
    const nodes = (map.body.nodes as Array<{ id: string }>).map((n) => n.id);
    assert.ok(nodes.includes('north/10.1.0.10') && nodes.includes('south/10.2.0.10'));
    const inc = await get('/api/incidents?site=south&status=open');
    assert.deepEqual(
      inc.body.items.map((i) => `${String(i.site)} ${String(i.title)}`),
      ['south Writes to PLCs at south'],
    );
    const audit = await get('/api/audit?site=*');
    const chains = audit.body.chains as Array<{
      site: string;
      status: string;
      problems: unknown[];
    }>;
    assert.deepEqual(
      chains.map((c) => `${c.site} ${c.status}`),
      ['north intact', 'south tampered'],
    );
    assert.equal(audit.body.items.length, 4);
    const ov = await get('/api/overview?site=*');
    assert.deepEqual(
      (ov.body.sites as Array<{ site: string; assets: number; audit: { status: string } }>).map(
        (s) => `${s.site} ${s.assets} ${s.audit.status}`,
      ),
      ['north 3 intact', 'south 3 tampered'],
    );
    const oddAsset = (await get('/api/assets?site=odd')).body.items[0]!;
    assert.deepEqual(
      [oddAsset.ips, oddAsset.hostnames, oddAsset.role, oddAsset.identity, oddAsset.serves],
      [[], [], 'unknown', {}, []],
    );
    assert.deepEqual((await get('/api/map?site=odd')).body.edges, []);
    const oddInc = (await get('/api/incidents?site=odd')).body.items[0]!;
    assert.deepEqual([oddInc.title, oddInc.tactics, oddInc.lastSeen], ['i', [], 0]);
    assert.equal((await get('/api/detections?site=north')).code, 200);
    assert.equal((await get('/api/assets?site=North')).code, 400, 'not a site name');
    assert.equal((await get("/api/assets?site=a'--")).code, 400);
    const none = await get('/api/assets?site=north', noFleet);
    assert.equal(none.code, 400);
    assert.match(String(none.body.error), /runs no fleet manager/);
    assert.equal((await app.inject({ url: '/api/assets?site=north' })).statusCode, 401);
  } finally {
    await app.close();
    await noFleet.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the site publisher: bounded per tick, the mark moves only past what went out, oversize counted once', () => {
  const store = openStore(path.join(tempDir('pub-bound'), 'weir.db'));
  for (let i = 0; i < 25; i++) putAsset(store, asset(`10.9.0.${i}`, `p${i}`, 1000 + i));
  const big = asset('10.9.1.1', 'big', 2000);
  putAsset(store, { ...big, roleReasons: ['x'.repeat(4000)] });
  const fdb = openFleetDb(':memory:');
  const outbox = new Outbox(fdb, 's', { log: () => undefined });
  const pub = new SitePublisher(store, fdb, outbox, {
    maxRecords: 10,
    maxDocBytes: 3000,
    log: () => undefined,
  });
  const sent = (): number =>
    (fdb.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  assert.equal(pub.tick(false), 10);
  assert.equal(pub.tick(false), 10);
  assert.equal(pub.tick(false), 5);
  assert.equal(pub.tick(false), 0, 'nothing changed');
  assert.equal(sent(), 25);
  assert.equal(pub.oversize, 1);
  assert.equal(
    pub.tick(true),
    0,
    'a full sweep finds nothing new; the oversize asset is not counted again',
  );
  assert.equal(pub.oversize, 1);
  // A change goes out as version 2 with its own fixed id; adding the same record again is one record.
  putAsset(store, asset('10.9.0.3', 'p3-renamed', 1003));
  assert.equal(pub.tick(true), 1);
  const last = fdb
    .prepare('SELECT id, kind, body, at FROM outbox ORDER BY seq DESC LIMIT 1')
    .get() as {
    id: string;
    kind: 'inventory';
    body: string;
    at: number;
  };
  assert.equal((JSON.parse(last.body) as { version: number }).version, 2);
  outbox.add(last.kind, JSON.parse(last.body), last.at, last.id);
  assert.equal(sent(), 26);
});

test('a second, different audit entry under a sequence already kept is refused; the same one again is not', () => {
  const db = openFleetDb(':memory:');
  const agg = new AggregateStore(db);
  const entry = (hash: string) => ({
    seq: 1,
    at: '2026-11-27T10:00:00.000Z',
    actor: 'x',
    action: 'y',
    subject: 'z',
    simulationId: null,
    details: '{}',
    prevHash: '',
    hash,
    keyId: null,
    mac: null,
  });
  agg.take('a', 'auditlog', entry('a'.repeat(64)), 0);
  agg.take('a', 'auditlog', entry('a'.repeat(64)), 0);
  assert.throws(
    () => agg.take('a', 'auditlog', entry('b'.repeat(64)), 0),
    /a different audit entry 1 than the one kept/,
  );
  assert.equal(
    (
      db.prepare('SELECT hash FROM fleet_audit WHERE site = ? AND seq = 1').get('a') as {
        hash: string;
      }
    ).hash,
    'a'.repeat(64),
    'the first one stays',
  );
});
