import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
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
  PASSWORD,
  portOf,
  rawRequest,
  webRoot,
  type RawResponse,
} from './fixture.js';

let dir: string, db: Db, app: FastifyInstance, base: string, port: number, cookie: string;

before(async () => {
  ({ dir, db } = freshStore('weir-guards-'));
  await addUsers(db, [['ana', ['analyst']]]);
  app = await buildServer({
    db,
    webRoot,
    feed: new LiveFeed(),
    allowedHosts: ['weir.plant.local'],
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  port = portOf(base);
  cookie = await login(base, 'ana');
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test('DNS rebinding: a Host header that is not this server is refused before any handler, login included', async () => {
  const body = JSON.stringify({ user: 'ana', password: PASSWORD });
  const loginAs = (host: string) =>
    rawRequest(
      port,
      'POST',
      '/api/session',
      { host, 'content-type': 'application/json' },
      { body },
    );
  for (const host of [
    'evil.example',
    `evil.example:${port}`,
    `127.0.0.1.evil.example:${port}`,
    `weir.plant.local.evil.example:${port}`,
    'localhost.',
    '',
    '[::2]',
  ]) {
    for (const [method, target] of [
      ['GET', '/'],
      ['GET', '/api/overview'],
      ['GET', '/api/me'],
      ['GET', '/api/nope'],
    ] as const) {
      const r = await rawRequest(port, method, target, { host, cookie });
      assert.ok(
        r.status === 421 || (host === '' && r.status === 400),
        `${method} ${target} Host ${host}: ${r.status}`,
      );
      assert.doesNotMatch(r.body, /ana|analyst|<div id="root">/);
    }
    if (host !== '') assert.equal((await loginAs(host)).status, 421, `login with Host ${host}`);
  }
  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    `LOCALHOST:${port}`,
    `weir.plant.local:${port}`,
    'weir.plant.local',
  ]) {
    assert.equal(
      (await rawRequest(port, 'GET', '/api/me', { host, cookie })).status,
      200,
      `Host ${host}`,
    );
  }
  assert.equal((await loginAs(`localhost:${port}`)).status, 200);
});

function tryLive(headers: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/live`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('error', (e) => resolve(e.message));
  });
}

test('the WebSocket opens only for a page of this very origin (scheme, host, port)', async () => {
  assert.equal(await tryLive({ cookie, origin: `http://127.0.0.1:${port}` }), 'open');
  for (const origin of [
    undefined,
    'null',
    'http://evil.example',
    `http://evil.example:${port}`,
    `https://127.0.0.1:${port}`,
    `http://127.0.0.1:${port + 1}`,
    `http://localhost:${port}`,
    'file://',
    `http://127.0.0.1:${port}.evil.example`,
  ]) {
    const got = await tryLive(origin === undefined ? { cookie } : { cookie, origin });
    assert.match(got, /Unexpected server response: 403/, `Origin ${origin}: ${got}`);
  }
});

test('a state change sent from another origin is refused even with the cookie', async () => {
  const r = await fetch(`${base}/api/session`, {
    method: 'DELETE',
    headers: { cookie, origin: 'http://evil.example' },
  });
  assert.equal(r.status, 403);
  assert.equal(
    (await fetch(`${base}/api/me`, { headers: { cookie } })).status,
    200,
    'the session survived',
  );
});

function securityHeaders(what: string, r: RawResponse): void {
  const csp = r.headers['content-security-policy'] ?? '';
  for (const d of [
    "default-src 'none'",
    "script-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "connect-src 'self'",
  ])
    assert.ok(csp.includes(d), `${what}: CSP ${csp} lacks ${d}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, what);
  assert.equal(r.headers['x-frame-options'], 'DENY', what);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', what);
}

test('every response carries CSP, X-Frame-Options, nosniff and Referrer-Policy; API answers are never cached', async () => {
  const asset = readdirSync(path.join(webRoot, 'assets'))[0]!;
  const cases: Array<[string, string, Record<string, string>]> = [
    ['GET', '/', {}],
    ['GET', `/assets/${asset}`, {}],
    ['GET', '/api/overview', { cookie }],
    ['GET', '/api/overview', {}],
    ['GET', '/api/nope', {}],
    ['GET', '/api/me', { host: 'evil.example' }],
    ['DELETE', '/api/session', { origin: 'http://evil.example' }],
  ];
  for (const [method, target, headers] of cases) {
    const r = await rawRequest(port, method, target, headers);
    securityHeaders(`${method} ${target} ${r.status}`, r);
    if (target.startsWith('/api'))
      assert.equal(
        r.headers['cache-control'],
        'no-store',
        `${method} ${target}: cache-control ${r.headers['cache-control']}`,
      );
  }
  const r = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'ana', password: PASSWORD }),
  });
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.doesNotMatch(
    r.headers.get('set-cookie')!,
    /Secure/,
    'plain HTTP on loopback: a Secure cookie would never come back',
  );
});
