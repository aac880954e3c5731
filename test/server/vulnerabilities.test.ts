import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server/app.js';
import { advisedPlantStore, injectLogin } from './fixture.js';
import type { Db } from '../../src/store/db.js';

const POLICY = `weir: policy/1
site: plant
timezone: Europe/Berlin
zones:
  - { name: control, members: [10.77.0.16/28], mode: monitor }
windows:
  - { name: maintenance, days: [sat], from: "02:00", to: "04:00" }
  - { name: night-shift, days: [mon, tue], from: "22:00", to: "06:00" }
`;

let store: { dir: string; file: string; db: Db };
let app: FastifyInstance;
let cookie = '';

before(async () => {
  store = await advisedPlantStore('weir-vulns-', POLICY);
  app = await buildServer({ db: store.db });
  cookie = await injectLogin(app, 'vera');
});
after(async () => {
  await app?.close();
  store.db.close();
  rmSync(store.dir, { recursive: true, force: true });
});

const get = (url: string, auth = true) =>
  app.inject({ method: 'GET', url, headers: auth ? { cookie } : {} });

test('GET /api/vulnerabilities: per asset and per advisory, with CVSS, fix and the next maintenance window', async () => {
  assert.equal((await get('/api/vulnerabilities', false)).statusCode, 401);
  const r = await get('/api/vulnerabilities');
  assert.equal(r.statusCode, 200);
  const { imported, report } = r.json();
  assert.equal(imported, 3);
  assert.deepEqual(
    report.maintenanceWindows.map((w: { name: string }) => w.name),
    ['maintenance'],
  );
  assert.match(report.maintenanceWindows[0].when, /sat 02:00–04:00 Europe\/Berlin/);
  // 02:00 Berlin is 00:00 or 01:00 UTC; while the window is open (Saturdays 00:00/01:00–02:00/03:00 UTC) it
  // counts from now, the current minute.
  const nextStart: string = report.maintenanceWindows[0].nextStart;
  const openNow = Math.abs(Date.parse(nextStart) - Date.now()) <= 120_000;
  assert.ok(openNow || /T0[01]:00:00\.000Z$/.test(nextStart), nextStart);
  const plc = report.assets.find((a: { assetId: string }) => a.assetId === '10.77.0.22');
  assert.equal(plc.zone, 'control');
  assert.equal(plc.worstCvss.score, 7.5);
  const fam = plc.findings.find((f: { advisoryId: string }) => f.advisoryId === 'ICSA-19-043-04');
  assert.equal(fam.fixAvailable, true);
  assert.equal(fam.window.name, 'maintenance');
  assert.match(fam.windowNote, /next maintenance window: maintenance/);
  const adv = report.byAdvisory.find(
    (a: { advisoryId: string }) => a.advisoryId === 'ICSA-22-104-06',
  );
  assert.deepEqual(
    adv.assets.map((a: { assetId: string }) => a.assetId),
    ['10.77.0.22'],
  );
});

test('GET /api/vulnerabilities/assets/:id and /api/advisories/:id', async () => {
  const a = (await get('/api/vulnerabilities/assets/10.77.0.22')).json();
  assert.equal(a.vulnerabilities.findings.length, 2);
  const none = (await get('/api/vulnerabilities/assets/10.77.0.21')).json();
  assert.equal(none.vulnerabilities, null, 'the Modbus PLC of a fictional vendor has no advisory');
  assert.equal((await get('/api/vulnerabilities/assets/10.9.9.9')).statusCode, 404);
  const adv = (await get('/api/advisories/ICSA-19-043-04')).json();
  assert.equal(adv.title, 'Siemens SIMATIC S7-300 CPU');
  assert.deepEqual(
    adv.vulnerabilities.map((v: { cve: string }) => v.cve),
    ['CVE-2018-16561'],
  );
  assert.ok(
    adv.vulnerabilities[0].remediations.some(
      (r: { category: string }) => r.category === 'vendor_fix',
    ),
  );
  assert.deepEqual(
    adv.plant.map((p: { assetId: string; confidence: string }) => [p.assetId, p.confidence]),
    [['10.77.0.22', 'family']],
  );
  assert.equal((await get('/api/advisories/ICSA-99-999-99')).statusCode, 404);
  assert.equal((await get('/api/vulnerabilities?minConfidence=bogus')).statusCode, 400);
});

test('GET /api/risk: exposure paths, explained risk, patch plan', async () => {
  assert.equal((await get('/api/risk', false)).statusCode, 401);
  const r = (await get('/api/risk')).json();
  assert.equal(r.exposure.targets, 2);
  assert.ok(r.exposure.paths.length >= 4);
  assert.equal(r.risk.assets[0].assetId, '10.77.0.21');
  assert.ok(r.risk.assets[0].exposure.why.length > 0);
  assert.equal(r.patchPlan[0].assetId, '10.77.0.22');
  assert.equal(r.patchPlan[0].window.name, 'maintenance');
});
