import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { guesserOf, LOGIN_LIMITS, LoginThrottle } from '../../src/server/login-throttle.js';
import { listAudit } from '../../src/store/audit-store.js';
import { addUsers, freshStore, PASSWORD } from './fixture.js';

let dir: string, db: Db, app: FastifyInstance;

before(async () => {
  ({ dir, db } = freshStore('weir-throttle-'));
  await addUsers(db, [
    ['ana', ['analyst']],
    ['vera', ['viewer']],
    ['otto', ['viewer']],
    ['ida', ['viewer']],
  ]);
  app = await buildServer({ db });
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const attempt = (user: string, password: string, remoteAddress: string) =>
  app.inject({ method: 'POST', url: '/api/session', payload: { user, password }, remoteAddress });
const failedAudits = () => listAudit(db, 100_000).filter((e) => e.action === 'login.failed');

test(
  '200 concurrent wrong guesses from one address: at most the limit reach the password check, the rest get 429 with Retry-After',
  { timeout: 120_000 },
  async () => {
    const before = failedAudits().length;
    const rs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => attempt('ana', `guess-${i}`, '10.1.1.1')),
    );
    const checked = rs.filter((r) => r.statusCode === 401).length;
    const refused = rs.filter((r) => r.statusCode === 429);
    assert.ok(checked <= LOGIN_LIMITS.perAddress.max, `${checked} guesses were checked`);
    assert.equal(checked + refused.length, 200);
    assert.equal(
      failedAudits().length - before,
      checked,
      'every checked guess is audited, refused ones are not checked at all',
    );
    for (const r of refused)
      assert.ok(
        Number(r.headers['retry-after']) >= 1 &&
          Number(r.headers['retry-after']) <= LOGIN_LIMITS.perAddress.seconds,
        String(r.headers['retry-after']),
      );
    assert.equal(
      (await attempt('ana', PASSWORD, '10.1.1.1')).statusCode,
      429,
      'the right password does not get through a throttled address either',
    );
    assert.equal(
      (await attempt('vera', PASSWORD, '10.1.1.2')).statusCode,
      200,
      'other addresses are not affected',
    );
  },
);

test(
  '200 concurrent guesses at one account from 200 addresses: at most the per-account limit are checked',
  { timeout: 120_000 },
  async () => {
    const rs = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        attempt('otto', `guess-${i}`, `10.2.${i >> 8}.${i & 255}`),
      ),
    );
    const checked = rs.filter((r) => r.statusCode === 401).length;
    assert.ok(checked <= LOGIN_LIMITS.perAccount.max, `${checked} guesses were checked`);
    assert.equal(rs.filter((r) => r.statusCode === 429).length, 200 - checked);
    assert.equal(
      (await attempt('vera', PASSWORD, '10.2.9.9')).statusCode,
      200,
      'other accounts are not affected',
    );
    // IPv6: one /64 is one address, else an attacker rotates through 2^64 of them.
    const v6 = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        attempt('ida', `guess-${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`),
      ),
    );
    assert.ok(v6.filter((r) => r.statusCode === 401).length <= LOGIN_LIMITS.perAddress.max);
  },
);

test('a successful login, even as another user, does not reset the counter of the address', async () => {
  const addr = '10.3.3.3';
  const n = LOGIN_LIMITS.perAddress.max;
  for (let i = 0; i < n - 1; i++)
    assert.equal((await attempt('ana', `wrong-${i}`, addr)).statusCode, 401);
  assert.equal(
    (await attempt('vera', PASSWORD, addr)).statusCode,
    200,
    'a slot is still free for a real user',
  );
  assert.equal((await attempt('ana', 'wrong-last', addr)).statusCode, 401);
  assert.equal((await attempt('ana', 'wrong-again', addr)).statusCode, 429);
});

test('a failed login is audited as unauthenticated; the name typed is recorded as untrusted text, escaped', async () => {
  const typed = 'root\u001b[2J\r\nadmin logged in\u202e\u0000';
  const r = await attempt(typed, 'whatever', '10.4.4.4');
  assert.equal(r.statusCode, 401);
  const e = failedAudits().at(-1)!;
  assert.equal(e.actor, 'unauthenticated');
  assert.equal(e.subject, '10.4.4.4');
  const claimed = (e.details as { claimedUser: string }).claimedUser;
  assert.equal(claimed, 'root\\u001b[2J\\u000d\\u000aadmin logged in\\u202e\\u0000');
  assert.doesNotMatch(
    JSON.stringify(
      listAudit(db, 100_000)
        .filter((x) => x.action.startsWith('login'))
        .map((x) => x.actor),
    ),
    /root/,
  );
});

test('the window slides: slots free up as old failures age out, one at a time', () => {
  let now = 1000;
  const t = new LoginThrottle(
    { perAddress: { max: 3, seconds: 60 }, perAccount: { max: 100, seconds: 600 } },
    () => now,
  );
  for (let i = 0; i < 3; i++) {
    assert.ok(t.reserve('10.0.0.1', 'ana').ok);
    now += 10;
  }
  const refused = t.reserve('10.0.0.1', 'ana');
  assert.deepEqual(refused, { ok: false, retryAfter: 30 });
  now = 1061;
  assert.ok(t.reserve('10.0.0.1', 'ana').ok, 'the first failure aged out');
  assert.equal(t.reserve('10.0.0.1', 'ana').ok, false);
  assert.equal(guesserOf('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(guesserOf('2001:db8:0:7:a::1'), guesserOf('2001:db8::7:ffff:ffff:ffff:ffff'));
});
