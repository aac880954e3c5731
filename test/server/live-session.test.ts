// Review 14, L3: the live WebSocket is bound to its session for as long as it stays open, not only at the upgrade.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { LiveFeed, type LiveEvent } from '../../src/server/live.js';
import { setUserRoles } from '../../src/store/change-store.js';
import { removeUser, setPasswordHash } from '../../src/store/session-store.js';
import { hashPassword } from '../../src/server/passwords.js';
import { addUsers, freshStore, login } from './fixture.js';

let dir: string, db: Db, app: FastifyInstance, base: string;
const feed = new LiveFeed();

before(async () => {
  ({ dir, db } = freshStore('weir-live-session-'));
  await addUsers(db, [
    ['root', ['admin']],
    ['ana', ['analyst']],
    ['bob', ['analyst']],
    ['cy', ['security']],
    ['dee', ['viewer']],
  ]);
  app = await buildServer({ db, feed, limits: { heartbeatSeconds: 1 } });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const detection = (id: string): LiveEvent => ({
  type: 'detection',
  detection: {
    id,
    type: 'cpu_stop',
    severity: 'high',
    src: '10.0.0.5',
    dst: '10.0.0.10',
    explanation: 'S7 PLC STOP',
    ts: 1,
  },
});

interface Live {
  ws: WebSocket;
  got: string[];
  closed: Promise<{ code: number; reason: string }>;
}

async function openLive(user: string): Promise<{ live: Live; cookie: string }> {
  const cookie = await login(base, user);
  const ws = new WebSocket(`${base.replace('http', 'ws')}/api/live`, {
    headers: { cookie, origin: base },
  });
  const got: string[] = [];
  ws.on('message', (m) => {
    const e = JSON.parse(m.toString()) as { type: string; detection?: { id: string } };
    if (e.type === 'detection') got.push(e.detection!.id);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise((r) => ws.on('open', r));
  return { live: { ws, got, closed }, cookie };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Within `ms`, or 'still open'. */
const closedWithin = (l: Live, ms: number) =>
  Promise.race([l.closed, sleep(ms).then(() => 'still open' as const)]);

test('after logout the feed sends nothing more and closes with 1008', async () => {
  const { live, cookie } = await openLive('ana');
  feed.publish(detection('before'));
  await sleep(200);
  assert.deepEqual(live.got, ['before']);
  const out = await fetch(`${base}/api/session`, {
    method: 'DELETE',
    headers: { cookie, origin: base },
  });
  assert.equal(out.status, 200);
  feed.publish(detection('after-logout'));
  const c = await closedWithin(live, 3000);
  assert.notEqual(c, 'still open', 'the feed outlived the logout');
  assert.equal((c as { code: number }).code, 1008);
  assert.deepEqual(live.got, ['before'], 'nothing is sent once the session is gone');
});

test('an idle feed closes at the next heartbeat when the password changes, the roles change or the user is removed', async () => {
  const { live: pw } = await openLive('bob');
  const { live: roles } = await openLive('cy');
  const { live: gone } = await openLive('dee');
  setPasswordHash(db, 'bob', await hashPassword('a new password of bob'));
  setUserRoles(db, 'cy', ['viewer']);
  assert.equal(removeUser(db, 'dee'), true);
  for (const [who, l] of [
    ['password change', pw],
    ['role change', roles],
    ['removal', gone],
  ] as const) {
    const c = await closedWithin(l, 3000);
    assert.notEqual(c, 'still open', `the feed outlived the ${who}`);
    assert.equal((c as { code: number }).code, 1008, who);
  }
  feed.publish(detection('late'));
  await sleep(100);
  assert.deepEqual([...pw.got, ...roles.got, ...gone.got], []);
});

test('a feed whose session holds keeps streaming across heartbeats', async () => {
  const { live } = await openLive('root');
  await sleep(2500);
  feed.publish(detection('still-here'));
  await sleep(200);
  assert.equal(live.ws.readyState, WebSocket.OPEN);
  assert.deepEqual(live.got, ['still-here']);
  live.ws.close();
});

// Review 14b, L-b: the session is checked from the heartbeat timer and from the feed's publisher; a store that
// cannot answer (busy, gone) must not throw there, where it would end the server or the capture's ingest.
test('a session check the store cannot answer closes the feed with 1011 and never throws into the publisher', async () => {
  const { live } = await openLive('root');
  const prepare = db.prepare;
  db.prepare = (() => {
    throw new Error('database is locked');
  }) as typeof db.prepare;
  try {
    assert.doesNotThrow(() => feed.publish(detection('unchecked')));
  } finally {
    db.prepare = prepare;
  }
  const c = await closedWithin(live, 3000);
  assert.notEqual(c, 'still open');
  assert.equal((c as { code: number }).code, 1011);
  assert.deepEqual(live.got, [], 'nothing is sent on a session that could not be checked');
});
