// The site filter on flows, vulnerabilities, risk and the asset and incident detail pages, over a manager.db
// filled as the manager's ingest fills it. Two sites reuse one address plan: 10.1.0.50 is a Siemens S7-300 at
// north and a Rockwell 1756-ENBT at south, so any mix-up of sites shows as the wrong advisory. Vulnerabilities
// and risk must equal what the single-host pages compute for the same inventory (one engine, not a copy).
// Then the attacks: hostile `site` values on every route get 400/404 and never another site's data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { AggregateStore } from '../../src/fleet/aggregate-store.js';
import { importFeed } from '../../src/assess/advisories/import.js';
import { buildServer } from '../../src/server/app.js';
import { addUsers, freshStore, injectLogin } from '../server/fixture.js';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from './fleet-kit.js';
import { fillTwinSites, seed } from './site-pages-kit.js';

test('flows, vulnerabilities, risk, asset and incident pages per site; hostile site values refused', async () => {
  const fleetDir = tempDir('pages-fleet');
  fillTwinSites(fleetDir);
  const { dir, db } = freshStore('weir-site-pages-');
  await importFeed(db, path.join(repoRoot, 'fixtures/advisories'));
  await addUsers(db, [['vera', ['viewer']]]);
  const app = await buildServer({ db, fleetDir });
  const noFleet = await buildServer({ db });
  try {
    const cookie = await injectLogin(app, 'vera');
    const get = async (url: string, a = app) => {
      const r = await a.inject({ url, headers: { cookie } });
      return { code: r.statusCode, text: r.body, body: r.json() as Record<string, any> };
    };

    // Flows: the sites' edges, one site or all with a site column and per-site totals.
    const nf = await get('/api/flows?site=north');
    if (nf.code !== 200) console.log(nf.text);
    assert.equal(nf.code, 200);
    assert.equal(nf.body.total, 3);
    assert.ok(nf.body.items.every((f: { site: string }) => f.site === 'north'));
    assert.deepEqual(nf.body.items[0], {
      ...nf.body.items[0],
      client: '10.1.0.2',
      server: '10.1.0.50',
      packets: 40,
    });
    assert.deepEqual(nf.body.sites, [{ site: 'north', flows: 3, packets: 60, bytes: 3600 }]);
    const af = await get('/api/flows?site=*&q=10.1.0.5');
    assert.deepEqual(
      af.body.items.map((f: { site: string; server: string }) => `${f.site} ${f.server}`),
      ['north 10.1.0.50'],
    );
    assert.deepEqual(
      (await get('/api/flows?site=*')).body.sites.map((s: { site: string }) => s.site),
      ['north', 'south'],
    );

    // Vulnerabilities: each site's twin matched on its own identity.
    const advisoriesOf = (r: Record<string, any>) =>
      r.report.assets.map(
        (a: { site: string; assetId: string; findings: Array<{ advisoryId: string }> }) =>
          `${a.site} ${a.assetId} ${a.findings
            .map((f) => f.advisoryId)
            .sort()
            .join(',')}`,
      );
    const nv = (await get('/api/vulnerabilities?site=north')).body;
    assert.equal(nv.imported, 3);
    assert.deepEqual(advisoriesOf(nv), ['north 10.1.0.50 ICSA-19-043-04,ICSA-22-104-06']);
    assert.deepEqual(nv.report.zonesUnknown, [], 'north sent its policy');
    assert.equal(nv.report.assets[0].zone, 'control');
    const sv = (await get('/api/vulnerabilities?site=south')).body;
    assert.deepEqual(advisoriesOf(sv), ['south 10.1.0.50 ICSA-18-310-02']);
    const all = (await get('/api/vulnerabilities?site=*&minConfidence=exact')).body;
    assert.deepEqual(advisoriesOf(all), [
      'north 10.1.0.50 ICSA-22-104-06',
      'south 10.1.0.50 ICSA-18-310-02',
    ]);
    assert.deepEqual(
      all.report.byAdvisory.map(
        (a: { advisoryId: string; assets: Array<{ site: string }> }) =>
          `${a.advisoryId} ${a.assets.map((x) => x.site).join(',')}`,
      ),
      ['ICSA-18-310-02 south', 'ICSA-22-104-06 north'],
      'worst CVSS first, as on the single-host page',
    );
    const va = (await get('/api/vulnerabilities/assets/10.1.0.50?site=south')).body;
    assert.deepEqual(
      va.vulnerabilities.findings.map((f: { advisoryId: string }) => f.advisoryId),
      ['ICSA-18-310-02'],
    );

    // An advisory's page with a site chosen: the plant part lists that site's assets only.
    const adv = async (id: string, site: string) =>
      (await get(`/api/advisories/${id}?site=${encodeURIComponent(site)}`)).body.plant.map(
        (x: { site: string; assetId: string }) => `${x.site} ${x.assetId}`,
      );
    assert.deepEqual(await adv('ICSA-18-310-02', 'south'), ['south 10.1.0.50']);
    assert.deepEqual(await adv('ICSA-18-310-02', 'north'), [], "south's device is not north's");
    assert.deepEqual(await adv('ICSA-22-104-06', 'north'), ['north 10.1.0.50']);
    assert.deepEqual(await adv('ICSA-22-104-06', '*'), ['north 10.1.0.50']);
    assert.deepEqual(
      (await get('/api/advisories/ICSA-22-104-06')).body.plant,
      [],
      "this server's own page: the sites' assets are not its own",
    );

    // Risk: the write path, the advisory and the open detection all count, at north only.
    const nr = (await get('/api/risk?site=north')).body;
    assert.deepEqual(nr.zonesUnknown, []);
    assert.deepEqual(
      nr.risk.zones.map((z: { site: string; zone: string }) => `${z.site} ${z.zone}`),
      ['north control'],
      "north's own policy places its assets",
    );
    const nt = nr.risk.assets.find((a: { assetId: string }) => a.assetId === '10.1.0.50');
    assert.equal(nt.site, 'north');
    assert.equal(nt.zone, 'control');
    assert.match(nt.consequence.why, /in zone control/);
    assert.match(nt.detection.why, /1 open detection \(1 high\)/);
    assert.match(nt.exposure.why, /write/);
    assert.ok(nt.vulnerability.value > 0);
    assert.ok(nr.exposure.paths.every((p: { site: string }) => p.site === 'north'));
    assert.ok(nr.exposure.paths.length > 0);
    assert.ok(nr.patchPlan.some((s: { assetId: string }) => s.assetId === '10.1.0.50'));
    const sr = (await get('/api/risk?site=south')).body;
    const st = sr.risk.assets.find((a: { assetId: string }) => a.assetId === '10.1.0.50');
    assert.match(st.detection.why, /no open detections/);
    assert.deepEqual(sr.zonesUnknown, ['south']);
    assert.deepEqual(sr.risk.zones, [], 'zones of a policy south never sent are not invented');
    assert.equal(st.zone, null, "north's policy names 10.1.0.0/24: it never places south's twin");
    assert.deepEqual(sr.exposure.paths, []);
    const ar = (await get('/api/risk?site=*')).body;
    assert.deepEqual(ar.zonesUnknown, ['south']);
    assert.deepEqual(
      ar.risk.assets
        .filter((a: { assetId: string }) => a.assetId === '10.1.0.50')
        .map((a: { site: string; score: number }) => `${a.site} ${a.score}`),
      [`north ${nt.score}`, `south ${st.score}`],
    );

    // The same engines as the single-host pages: south's inventory in this server's own store scores the same.
    seed('south')(db);
    const localR = await get('/api/risk');
    assert.equal(localR.code, 200, localR.text);
    const local = localR.body;
    const lt = local.risk.assets.find((a: { assetId: string }) => a.assetId === '10.1.0.50');
    const { site: _s, ...stLocal } = st;
    assert.deepEqual(lt, stLocal, 'one scoring code for a site asset and a local one');
    const lv = (await get('/api/vulnerabilities')).body;
    assert.deepEqual(
      lv.report.assets.find((a: { assetId: string }) => a.assetId === '10.1.0.50').findings,
      sv.report.assets[0].findings,
    );

    // Asset and incident detail pages: the URL names the site; ids are per site.
    const na = (await get('/api/assets/10.1.0.50?site=north')).body;
    assert.equal(na.site, 'north');
    assert.deepEqual(na.asset.hostnames, ['north-twin']);
    assert.equal(na.asset.zone, 'control');
    assert.deepEqual(
      na.edges.map((e: { client: string }) => e.client),
      ['10.1.0.2'],
    );
    assert.deepEqual(
      na.detections.map((d: { id: string }) => d.id),
      ['north-d1'],
    );
    const sa = (await get('/api/assets/10.1.0.50?site=south')).body;
    assert.deepEqual(sa.asset.hostnames, ['south-twin']);
    assert.equal(sa.asset.zone, null);
    assert.deepEqual([sa.edges, sa.detections], [[], []]);
    const ni = await get('/api/incidents/north-inc-1?site=north');
    assert.equal(ni.code, 200);
    assert.equal(ni.body.title, 'Writes to PLCs at north');
    assert.equal(ni.body.site, 'north');
    assert.deepEqual(ni.body.tacticNames, { 'impair-process-control': 'Impair Process Control' });
    assert.equal((await get('/api/incidents/north-inc-1?site=south')).code, 404, 'not south’s');
    assert.equal((await get('/api/assets/10.9.9.9?site=north')).code, 404);
    assert.equal((await get('/api/assets/10.1.0.50?site=*')).code, 400, 'a detail names one site');
    assert.equal((await get('/api/incidents/north-inc-1?site=*')).code, 400);

    // Hostile site values on every route: 400 (not a site name) or 404 (no such site), never data.
    const routes = [
      '/api/flows',
      '/api/vulnerabilities',
      '/api/vulnerabilities/assets/10.1.0.50',
      '/api/risk',
      '/api/assets/10.1.0.50',
      '/api/incidents/north-inc-1',
      '/api/assets',
      '/api/map',
      '/api/incidents',
      '/api/audit',
      '/api/overview',
      '/api/detections',
      '/api/advisories/ICSA-18-310-02',
    ];
    const hostile: Array<[string, number]> = [
      ['..', 400],
      ['../south', 400],
      ['north/../south', 400],
      ["north' OR '1'='1", 400],
      ['north%27%20OR%201%3D1--', 400],
      ['north%00', 400],
      ['%20north', 400],
      ['NORTH', 400],
      ['north*', 400],
      ['%', 400],
      ['', 400],
      ['n'.repeat(33), 400],
      ['x'.repeat(20_000), 400],
      ['west', 404],
      ['nort', 404],
    ];
    for (const route of routes)
      for (const [site, code] of hostile) {
        const r = await get(`${route}?site=${site}`);
        assert.equal(r.code, code, `${route}?site=${site.slice(0, 40)}`);
        assert.doesNotMatch(r.text, /10\.1\.0\.|10\.2\.0\.|-twin|north-|south-/, route);
        assert.ok(r.text.length < 600, 'an error, not a page of data');
      }
    // Two site values: refused or the first one only, never both or the second.
    for (const route of routes) {
      const r = await get(`${route}?site=north&site=south`);
      assert.ok(r.code === 400 || !/south/.test(r.text), `${route} with two sites`);
    }
    // No session: no data; no fleet: the filter says there is none.
    for (const route of routes) {
      assert.equal((await app.inject({ url: `${route}?site=north` })).statusCode, 401, route);
      const nf = await get(`${route}?site=north`, noFleet);
      assert.equal(nf.code, 400, route);
      assert.match(String(nf.body.error), /runs no fleet manager/);
    }
  } finally {
    await app.close();
    await noFleet.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(fleetDir, { recursive: true, force: true });
  }
});

test('a site sending odd documents gets odd rows on flows, vulnerabilities, risk and its detail pages, never an error', async () => {
  const fleetDir = tempDir('pages-odd');
  fillTwinSites(fleetDir);
  const m = openFleetDb(path.join(fleetDir, 'manager.db'));
  const agg = new AggregateStore(m);
  const many = ['10.5.0.1', ...Array.from({ length: 20_000 }, (_, i) => `a${i}`)];
  const items: Array<[string, string, unknown]> = [
    ['asset', '10.5.0.1', { ips: many, identity: { vendor: 7, model: ['x'] }, role: 'plc' }],
    ['asset', '10.5.0.2', { ips: ['10.5.0.2'], identity: 'Siemens', role: {}, roleReasons: 'x' }],
    ['edge', 'e1', { client: '10.5.0.2', server: '10.5.0.1', port: '502', functions: 'write' }],
    [
      'edge',
      'e2',
      {
        client: '10.5.0.2',
        server: '10.5.0.1',
        packets: 'many',
        functions: [null, 5, { func: 'x' }],
      },
    ],
  ];
  for (const [type, key, doc] of items)
    agg.take('odd', 'inventory', { type, key, version: 1, doc }, 0);
  agg.take(
    'odd',
    'incident',
    {
      type: 'incident',
      key: 'i',
      version: 1,
      doc: { title: 1, timeline: [null, 'x', { evidence: 5, techniques: 'T0' }], assets: {} },
    },
    0,
  );
  m.prepare(
    `INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES ('odd:d', 'odd', 'detection', 'not json', 1, 1, 1)`,
  ).run();
  m.close();
  const { dir, db } = freshStore('weir-site-pages-odd-');
  await importFeed(db, path.join(repoRoot, 'fixtures/advisories'));
  await addUsers(db, [['vera', ['viewer']]]);
  const app = await buildServer({ db, fleetDir });
  try {
    const cookie = await injectLogin(app, 'vera');
    const get = async (url: string) => {
      const r = await app.inject({ url, headers: { cookie } });
      assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 200)}`);
      return r.json() as Record<string, any>;
    };
    const flows = await get('/api/flows?site=odd');
    assert.equal(flows.total, 2);
    assert.deepEqual(
      flows.items.map((f: { port: number; packets: number }) => [f.port, f.packets]),
      [
        [0, 0],
        [0, 0],
      ],
    );
    assert.deepEqual((await get('/api/vulnerabilities?site=odd')).report.assets, []);
    const risk = await get('/api/risk?site=odd');
    assert.equal(risk.exposure.paths.length, 0, 'functions that are not a list write nothing');
    await get('/api/risk?site=*');
    await get('/api/vulnerabilities?site=*');
    const a = await get('/api/assets/10.5.0.1?site=odd');
    assert.equal(a.asset.ips.length, 20_001);
    assert.equal(a.edges.length, 2);
    assert.deepEqual((await get('/api/assets/10.5.0.2?site=odd')).asset.roleReasons, []);
    const inc = await get('/api/incidents/i?site=odd');
    assert.equal(inc.title, 'i');
    assert.equal(inc.timeline.length, 1);
    assert.deepEqual(inc.timeline[0].evidence, { frames: [], fields: {} });
    assert.deepEqual(inc.assets, []);
  } finally {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(fleetDir, { recursive: true, force: true });
  }
});
