// The incidents API: lists and timelines for any session, status changes and notes only for the roles that
// act on detections, each audited; detections name their incident.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore, type Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { listAudit } from '../../src/store/audit-store.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { addUsers, injectLogin } from './fixture.js';

let dir: string, db: Db, app: FastifyInstance;
const cookies = new Map<string, string>();

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'weir-inc-api-'));
  db = openStore(detectedPlantStore(dir));
  await addUsers(db, [
    ['vera', ['viewer']],
    ['ana', ['analyst']],
  ]);
  app = await buildServer({ db });
  for (const name of ['vera', 'ana']) cookies.set(name, await injectLogin(app, name));
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const headers = (user: string | null) => (user ? { cookie: cookies.get(user)! } : {});
const get = (user: string | null, url: string) =>
  app.inject({ method: 'GET', url, headers: headers(user) });
const post = (user: string | null, url: string, payload: unknown = {}) =>
  app.inject({ method: 'POST', url, headers: headers(user), payload: payload as object });

test('incidents: list, one timeline, detections link to it; acting needs the role and is audited', async () => {
  assert.equal((await get(null, '/api/incidents')).statusCode, 401);
  const list = (await get('vera', '/api/incidents')).json() as {
    total: number;
    notice: string;
    items: Array<{
      id: string;
      detectionIds: string[];
      timeline?: unknown;
      tacticNames: Record<string, string>;
    }>;
  };
  assert.equal(list.total, 2);
  assert.match(list.notice, /MITRE/);
  const intruder = list.items.find((i) => i.detectionIds.length === 5)!;
  assert.equal(intruder.timeline, undefined, 'lists carry no timeline');
  assert.equal(intruder.tacticNames['impair-process-control'], 'Impair Process Control');

  const one = (await get('vera', `/api/incidents/${intruder.id}`)).json() as {
    timeline: Array<{ type: string; evidence: { frames: number[] } }>;
    techniqueNames: Record<string, string>;
  };
  assert.deepEqual(
    one.timeline.map((s) => s.type),
    ['new_asset', 'port_scan', 'new_edge', 'write_new_range', 'write_new_range'],
  );
  assert.equal(one.techniqueNames.T0846, 'Remote System Discovery');
  assert.equal((await get('vera', '/api/incidents/inc-000000000000')).statusCode, 404);

  const dets = (await get('vera', '/api/detections?limit=50')).json() as {
    items: Array<{ type: string; incidentId: string | null; techniques: string[] }>;
  };
  const scan = dets.items.find((d) => d.type === 'port_scan')!;
  assert.equal(scan.incidentId, intruder.id);
  assert.deepEqual(scan.techniques, ['T0846']);

  assert.equal((await post('vera', `/api/incidents/${intruder.id}/acknowledge`)).statusCode, 403);
  assert.equal(
    (await post('vera', `/api/incidents/${intruder.id}/notes`, { text: 'x' })).statusCode,
    403,
  );
  const ack = await post('ana', `/api/incidents/${intruder.id}/acknowledge`, { note: 'looking' });
  assert.equal(ack.statusCode, 200, ack.body);
  assert.equal(ack.json().status, 'acknowledged');
  assert.equal(ack.json().statusBy, 'ana');
  assert.equal(
    (await post('ana', `/api/incidents/${intruder.id}/notes`, { text: 'laptop of a contractor' }))
      .statusCode,
    200,
  );
  assert.equal(
    (await post('ana', `/api/incidents/${intruder.id}/notes`, { text: '' })).statusCode,
    400,
  );
  assert.equal((await post('ana', `/api/incidents/${intruder.id}/contain`)).statusCode, 200);
  assert.equal((await post('ana', `/api/incidents/${intruder.id}/acknowledge`)).statusCode, 409);
  assert.equal((await post('ana', `/api/incidents/${intruder.id}/close`)).statusCode, 200);
  assert.equal((await get('vera', '/api/incidents?status=closed')).json().total, 1);
  assert.deepEqual(
    listAudit(db)
      .filter((e) => e.subject === intruder.id)
      .map((e) => `${e.actor} ${e.action}`),
    [
      'ana incident.acknowledged',
      'ana incident.note',
      'ana incident.contained',
      'ana incident.closed',
    ],
  );
});
