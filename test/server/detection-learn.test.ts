// Learning a detection into the baseline is one click from whitelisting an attacker: the API shows what would
// become normal and refuses a risky learn without an explicit confirmation. A mute can be undone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore, type Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { latestBaseline, listMutes } from '../../src/store/baseline-store.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { addUsers, injectLogin } from './fixture.js';

let dir: string, db: Db, app: FastifyInstance;
const cookies = new Map<string, string>();

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'weir-learn-'));
  const file = detectedPlantStore(dir);
  db = openStore(file);
  await addUsers(db, [
    ['vera', ['viewer']],
    ['ana', ['analyst']],
    ['eng', ['engineering']],
  ]);
  app = await buildServer({ db });
  for (const name of ['vera', 'ana', 'eng']) cookies.set(name, await injectLogin(app, name));
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const headers = (user: string) => ({ cookie: cookies.get(user)! });
const get = (user: string, url: string) =>
  app.inject({ method: 'GET', url, headers: headers(user) });
const post = (user: string, url: string, payload: Record<string, unknown> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: headers(user) });
interface Det {
  id: string;
  type: string;
  src: string;
  status: string;
  evidence: { fields: Record<string, unknown> };
}
const detections = async (): Promise<Det[]> =>
  ((await get('ana', '/api/detections')).json() as { items: Det[] }).items;

test("learning the intruder's write shows what becomes normal and needs confirm: true", async () => {
  const w = (await detections()).find(
    (d) => d.type === 'write_new_range' && d.evidence.fields.space === 'holding_register',
  )!;
  const preview = await get('vera', `/api/detections/${w.id}/learn-preview`);
  assert.equal(preview.statusCode, 200, preview.body);
  const p = preview.json() as {
    pair: string;
    function: string;
    addresses: string[];
    becomesNormal: string;
    warnings: string[];
  };
  assert.equal(p.pair, '10.77.0.66 → 10.77.0.21');
  assert.ok(
    p.function && p.addresses.length > 0 && p.addresses[0]!.startsWith('holding_register:'),
    JSON.stringify(p),
  );
  assert.match(p.becomesNormal, /10\.77\.0\.66 → 10\.77\.0\.21 may write holding_register/);
  assert.equal(p.warnings.length, 2, 'high severity and a source outside the baseline');
  const before = latestBaseline(db)!.version;
  assert.match(
    (await post('ana', `/api/detections/${w.id}/learn`, { confirm: true })).body,
    /not an edge of the baseline: learn its new_edge detection first/,
  );
  const edge = (await detections()).find((d) => d.type === 'new_edge')!;
  for (const x of [edge, w]) {
    const refused = await post('ana', `/api/detections/${x.id}/learn`, { note: 'one click' });
    assert.equal(refused.statusCode, 409);
    assert.match(refused.body, /explicit confirmation.*not in the baseline/);
    assert.equal(latestBaseline(db)!.version, before, 'nothing learned without confirmation');
  }
  assert.equal(
    (await post('ana', `/api/detections/${edge.id}/learn`, { confirm: true })).statusCode,
    200,
  );
  assert.equal(
    (await post('ana', `/api/detections/${w.id}/learn`, { confirm: 'yes' })).statusCode,
    400,
    'confirm is a boolean',
  );
  assert.equal(
    (await post('eng', `/api/detections/${w.id}/learn`, { confirm: true })).statusCode,
    403,
  );
  const ok = await post('ana', `/api/detections/${w.id}/learn`, {
    note: 'commissioning tool, change 12',
    confirm: true,
  });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal((ok.json() as { version: number }).version, before + 2);
  const audit = (await get('ana', '/api/audit')).json() as {
    items: Array<{ action: string; details: Record<string, unknown> }>;
  };
  const e = audit.items.find(
    (x) => x.action === 'detection.learned' && /may write/.test(String(x.details.becomes_normal)),
  )!;
  assert.equal(e.details.confirmed, true);
  assert.match(String(e.details.becomes_normal), /may write/);
  assert.equal(
    (
      await get(
        'vera',
        `/api/detections/${(await detections()).find((d) => d.type === 'port_scan')!.id}/learn-preview`,
      )
    ).statusCode,
    409,
    'a scan is an event',
  );
});

test('unmute undoes a mute: role-checked, audited, the detection reopens and such findings alert again', async () => {
  const scan = (await detections()).find((d) => d.type === 'port_scan')!;
  assert.equal(
    (await post('ana', `/api/detections/${scan.id}/unmute`)).statusCode,
    409,
    'nothing to unmute yet',
  );
  assert.equal(
    (await post('ana', `/api/detections/${scan.id}/mute`, { reason: 'pen test week', days: 7 }))
      .statusCode,
    200,
  );
  assert.equal(listMutes(db).length, 1);
  assert.equal((await post('vera', `/api/detections/${scan.id}/unmute`)).statusCode, 403);
  assert.equal((await post('eng', `/api/detections/${scan.id}/unmute`)).statusCode, 403);
  const r = await post('ana', `/api/detections/${scan.id}/unmute`, { reason: 'pen test over' });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal((r.json() as { unmuted: number[] }).unmuted.length, 1);
  assert.equal(listMutes(db).length, 0);
  assert.equal((await detections()).find((d) => d.id === scan.id)!.status, 'open');
  const audit = (await get('ana', '/api/audit')).json() as {
    items: Array<{ actor: string; action: string; details: Record<string, unknown> }>;
  };
  assert.ok(
    audit.items.some(
      (x) =>
        x.actor === 'ana' &&
        x.action === 'detection.unmuted' &&
        x.details.reason === 'pen test over',
    ),
  );
});
