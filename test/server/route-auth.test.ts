import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { LiveFeed } from '../../src/server/live.js';
import {
  addUsers,
  freshStore,
  login,
  portOf,
  rawRequest,
  webRoot,
  type RawResponse,
} from './fixture.js';

// Every GET route of the API, with real parameters, and what an authenticated viewer gets from it.
const GETS = [
  '/api/me',
  '/api/overview',
  '/api/assets',
  '/api/assets/10.77.0.21',
  '/api/map',
  '/api/detections',
  '/api/flows',
  '/api/policy',
  '/api/simulations',
  '/api/simulations/sim-000000000000',
  '/api/proposals',
  '/api/audit',
  '/api/users',
  '/api/enforcement',
  '/api/playbooks',
  '/api/permits',
  '/api/detections/d-000000000000/learn-preview',
  '/api/vulnerabilities',
  '/api/vulnerabilities/assets/10.77.0.21',
  '/api/advisories/ICSA-00-000-00',
  '/api/risk',
  '/api/incidents',
  '/api/incidents/inc-000000000000',
  '/api/sites',
  '/api/sites/plant-a/detections',
];
/** Sample ids in GETS that name nothing: with a session they answer 404, without one nothing at all. */
const MISSING = /sim-0{12}|d-0{12}|ICSA-00-000-00|inc-0{12}/;

/** The ways a path can be spelled so that a string-prefix check and the router disagree. */
function spellings(p: string, port: number): string[] {
  const rest = p.slice('/api/'.length);
  const encFirst = (seg: string) =>
    seg ? `%${seg.charCodeAt(0).toString(16)}${seg.slice(1)}` : seg;
  return [
    `/%61pi/${rest}`,
    `/%41pi/${rest}`,
    `/%61%70%69/${rest}`,
    `/api/${encFirst(rest)}`,
    `/${p.slice(1).split('/').map(encFirst).join('/')}`,
    `/api%2f${rest}`,
    `/api%2F${rest}`,
    `//api/${rest}`,
    `/api//${rest}`,
    `///api/${rest}`,
    `/API/${rest}`,
    `/Api/${rest}`,
    p.toUpperCase(),
    `${p}/`,
    `${p}//`,
    `${p}/.`,
    `/api/../api/${rest}`,
    `/./api/${rest}`,
    `/x/../api/${rest}`,
    `/api/./${rest}`,
    `/%2e/api/${rest}`,
    `/api/%2e%2e/api/${rest}`,
    `${p};`,
    `${p};x=1`,
    `/api;/${rest}`,
    `/api;x/${rest}`,
    `${p}?`,
    `${p}?x=1&x=2`,
    `${p}#frag`,
    `${p}%00`,
    `${p}%20`,
    `${p}%09`,
    `${p}.json`,
    p.replace(/\//g, '\\'),
    `http://127.0.0.1:${port}${p}`,
    `http://127.0.0.1:${port}/%61pi/${rest}`,
  ];
}

let dir: string,
  db: Db,
  app: FastifyInstance,
  base: string,
  port: number,
  cookie: string,
  index: string;
const feed = new LiveFeed();

before(async () => {
  ({ dir, db } = freshStore('weir-route-auth-', true));
  await addUsers(db, [
    ['vera', ['viewer']],
    ['root', ['admin']],
  ]);
  app = await buildServer({ db, webRoot, feed });
  // A route someone adds later without saying anything about access: closed by default.
  app.get('/api/added-later', async () => ({ secret: 'added-later' }));
  app.get('/added-outside-api', async () => ({ secret: 'added-outside' }));
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  port = portOf(base);
  cookie = await login(base, 'root');
  index = readFileSync(path.join(webRoot, 'index.html'), 'latin1');
  feed.publish({
    type: 'stats',
    source: 'test',
    packets: 1,
    messages: 1,
    assets: 1,
    edges: 1,
    detections: 0,
    lastTs: null,
    capped: {},
  });
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Without a session the answer carries no data: a 4xx, or the public dashboard page for a non-API path. */
function noData(method: string, target: string, r: RawResponse): void {
  const page =
    r.status === 200 &&
    (r.headers['content-type'] ?? '').startsWith('text/html') &&
    (method === 'HEAD' || r.body === index);
  assert.ok(
    (r.status >= 400 && r.status < 500) || page,
    `${method} ${target} without a session: ${r.status} ${r.body.slice(0, 120)}`,
  );
  assert.doesNotMatch(
    r.body,
    /10\.77\.0\.|"items"|"assets"|secret|"name"|"health"/,
    `${method} ${target} leaked data`,
  );
}

test('every GET route, spelled any way, answers nothing without a session', async () => {
  for (const p of GETS) {
    const authed = await rawRequest(port, 'GET', p, { cookie });
    assert.ok(
      authed.status === 200 || (authed.status === 404 && MISSING.test(p)),
      `${p} with a session: ${authed.status}`,
    );
    for (const target of [p, ...spellings(p, port)]) {
      for (const method of ['GET', 'HEAD', 'OPTIONS'])
        noData(method, target, await rawRequest(port, method, target));
    }
  }
});

test('the GET routes checked above are every GET route of the API (the live WebSocket is checked on its own)', () => {
  // printRoutes draws a tree: a child's path continues its parent's, its depth is its indentation.
  const paths: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ method: 'GET', commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(GET/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack[depth] = `${depth > 0 ? stack[depth - 1] : ''}${m[2]}`;
    paths.push(stack[depth]!);
  }
  const checked = new Set(
    GETS.map((g) =>
      g
        .replace(/\/(10\.77\.0\.21|sim-0{12}|d-0{12}|ICSA-00-000-00|inc-0{12})(?=\/|$)/, '/:id')
        .replace(/^\/api\/sites\/plant-a\//, '/api/sites/:site/'),
    ),
  );
  // The dashboard's files are public on purpose; /api/added-later is the probe route of the test below.
  const missing = paths.filter(
    (p) =>
      p.startsWith('/api/') && p !== '/api/live' && p !== '/api/added-later' && !checked.has(p),
  );
  assert.deepEqual(missing, [], 'add these to GETS so every spelling is tried against them');
  assert.ok(paths.length >= GETS.length);
});

test('routes are closed unless they say they are public: one added later, inside or outside /api, needs a session', async () => {
  for (const p of [
    '/api/added-later',
    '/%61pi/added-later',
    '/added-outside-api',
    '/%61dded-outside-api',
  ]) {
    const r = await rawRequest(port, 'GET', p);
    assert.equal(r.status, 401, `${p}: ${r.status} ${r.body}`);
  }
  assert.equal((await rawRequest(port, 'GET', '/api/added-later', { cookie })).status, 200);
  // Public: the login itself and the dashboard's files.
  assert.equal((await rawRequest(port, 'GET', '/')).status, 200);
  assert.equal((await rawRequest(port, 'GET', '/index.html')).status, 200);
  const unknown = await rawRequest(port, 'GET', '/api/no-such-thing');
  assert.equal(unknown.status, 404);
  assert.deepEqual(JSON.parse(unknown.body), { error: 'no such endpoint' });
  const encodedUnknown = await rawRequest(port, 'GET', '/%61pi/no-such-thing');
  assert.equal(
    encodedUnknown.status,
    404,
    'an API path spelled differently is still an API path, not the dashboard page',
  );
});

/** Opens a WebSocket; resolves with 'open' (and closes it) or the refusal. */
function tryLive(target: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${target}`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('error', (e) => resolve(e.message));
  });
}

test('the live WebSocket opens only with a session, however its path is spelled', async () => {
  const origin = `http://127.0.0.1:${port}`;
  assert.equal(await tryLive('/api/live', { origin, cookie }), 'open');
  for (const target of [
    '/api/live',
    '/%61pi/live',
    '/api/%6cive',
    '/%61%70%69/%6c%69%76%65',
    '//api/live',
    '/API/live',
    '/api/live/',
    '/api/live;',
    '/api/live?x=1',
    '/api/../api/live',
  ]) {
    const got = await tryLive(target, { origin });
    assert.notEqual(got, 'open', `${target} opened without a session`);
    assert.match(got, /Unexpected server response: 4\d\d/, `${target}: ${got}`);
  }
});
