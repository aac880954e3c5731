import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { randomBytes, scryptSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { hashPassword, verifyPassword } from '../../src/server/passwords.js';
import { addUser, userRoles } from '../../src/store/change-store.js';
import {
  deleteSessionsOf,
  listUsers,
  passwordHash,
  removeUser,
  setPasswordHash,
} from '../../src/store/session-store.js';
import { listAudit } from '../../src/store/audit-store.js';
import { submitPolicy } from '../../src/respond/change-control.js';
import { addUsers, freshStore, PASSWORD } from './fixture.js';

let dir: string, db: Db, app: FastifyInstance;

before(async () => {
  ({ dir, db } = freshStore('weir-users-'));
  await addUsers(db, [
    ['root', ['admin']],
    ['ana', ['analyst']],
    ['vera', ['viewer']],
    ['ida', ['viewer']],
  ]);
  app = await buildServer({ db });
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function login(user: string, password = PASSWORD): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/api/session', payload: { user, password } });
  assert.equal(r.statusCode, 200, `login ${user}: ${r.body}`);
  return `weir_session=${r.cookies.find((c) => c.name === 'weir_session')!.value}`;
}
const me = async (cookie: string) =>
  (await app.inject({ method: 'GET', url: '/api/me', headers: { cookie } })).statusCode;
const call = (cookie: string, method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
  app.inject({ method, url, headers: { cookie }, payload });

test('a password reset ends every session of that user, by the API or in the store (as the CLI does)', async () => {
  const root = await login('root');
  const [laptop, phone] = [await login('ana'), await login('ana')];
  const other = await login('vera');
  const r = await call(root, 'PUT', '/api/users/ana/password', {
    password: 'a brand new password',
  });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(await me(laptop), 401);
  assert.equal(await me(phone), 401);
  assert.equal(await me(other), 200, 'only her sessions');
  assert.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { user: 'ana', password: PASSWORD },
      })
    ).statusCode,
    401,
  );
  const fresh = await login('ana', 'a brand new password');
  setPasswordHash(db, 'ana', await hashPassword(PASSWORD));
  assert.equal(await me(fresh), 401, 'a reset in the store ends sessions too');
  assert.ok(
    listAudit(db).some(
      (e) => e.action === 'user.password_reset' && e.actor === 'root' && e.subject === 'ana',
    ),
  );
  assert.equal(
    (
      await call(await login('vera'), 'PUT', '/api/users/ana/password', {
        password: 'a brand new password',
      })
    ).statusCode,
    403,
  );
  assert.equal(
    (await call(root, 'PUT', '/api/users/nobody/password', { password: 'a brand new password' }))
      .statusCode,
    404,
  );
});

test('a change of roles ends the sessions held under the old roles', async () => {
  const root = await login('root');
  const vera = await login('vera');
  assert.equal(
    (
      await call(root, 'POST', '/api/users', {
        name: 'vera',
        roles: ['admin'],
        password: 'vera-password-12',
      })
    ).statusCode,
    409,
    'adding an existing name changes nothing',
  );
  assert.equal(
    (await call(root, 'PUT', '/api/users/vera/roles', { roles: ['viewer', 'analyst'] })).statusCode,
    200,
  );
  assert.ok(listAudit(db).some((e) => e.action === 'user.roles_changed' && e.subject === 'vera'));
  assert.equal(await me(vera), 401);
  const again = await login('vera');
  addUser(db, 'vera', ['viewer']); // the CLI's `user add` on an existing name
  assert.equal(await me(again), 401);
  assert.deepEqual(userRoles(db, 'vera'), ['viewer']);
});

test('an admin removes a user: their sessions end, they cannot log in; nobody removes themselves or the last admin', async () => {
  const root = await login('root');
  const ida = await login('ida');
  assert.equal((await call(await login('ana'), 'DELETE', '/api/users/ida')).statusCode, 403);
  assert.equal((await call(root, 'DELETE', '/api/users/ida')).statusCode, 200);
  assert.equal(await me(ida), 401);
  assert.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { user: 'ida', password: PASSWORD },
      })
    ).statusCode,
    401,
  );
  assert.ok(!listUsers(db).some((u) => u.name === 'ida'));
  assert.equal((await call(root, 'DELETE', '/api/users/ida')).statusCode, 404);
  assert.equal((await call(root, 'DELETE', '/api/users/root')).statusCode, 409, 'not yourself');
  assert.ok(
    listAudit(db).some(
      (e) => e.action === 'user.removed' && e.actor === 'root' && e.subject === 'ida',
    ),
  );
  // The store functions the CLI uses.
  assert.equal(removeUser(db, 'nobody'), false);
  await addUsers(db, [['tmp', ['viewer']]]);
  const tmp = await login('tmp');
  assert.equal(deleteSessionsOf(db, 'tmp'), 1);
  assert.equal(await me(tmp), 401);
  assert.equal(removeUser(db, 'tmp'), true);
  assert.throws(() => removeUser(db, 'root'), /last admin/);
});

test('passwords are hashed with scrypt N=2^17, r=8, p=1; an older, cheaper hash still works and is upgraded at the next login', async () => {
  assert.match(await hashPassword('x'.repeat(12)), /^scrypt\$131072\$8\$1\$/);
  const salt = randomBytes(16);
  const old = `scrypt$16384$8$1$${salt.toString('base64')}$${scryptSync(PASSWORD, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
  await addUsers(db, [['olga', ['viewer']]]);
  setPasswordHash(db, 'olga', old);
  const earlier = await login('olga');
  const now = await login('olga');
  assert.match(passwordHash(db, 'olga')!, /^scrypt\$131072\$8\$1\$/);
  assert.ok(await verifyPassword(PASSWORD, passwordHash(db, 'olga')!));
  assert.equal(
    await me(earlier),
    200,
    'upgrading the hash is not a password change: her other sessions stay',
  );
  assert.equal(await me(now), 200);
  assert.equal(
    await verifyPassword(PASSWORD, 'scrypt$1048576$64$1$AAAA$AAAA'),
    false,
    'a stored hash cannot make the server allocate gigabytes',
  );
});

// Review 14 C2, through the API as the review's repro does it: reset, log in as the approver, approve.
test('an admin who proposes cannot approve as an approver whose password they reset, even after a self-change; later proposals count', async () => {
  await addUsers(db, [['bert', ['security']]]);
  await new Promise((r) => setTimeout(r, 5));
  const id = submitPolicy(db, {
    text: 'weir: policy/1\nzones:\n  - { name: ctl, members: [10.0.0.0/24], mode: observe, approvals: [security] }\n',
    source: 'p.yaml',
    actor: 'root',
  });
  await new Promise((r) => setTimeout(r, 5));
  const root = await login('root');
  const reset = await call(root, 'PUT', '/api/users/bert/password', {
    password: 'root now knows it',
  });
  assert.equal(reset.statusCode, 200, reset.body);
  let bert = await login('bert', 'root now knows it');
  const r = await call(bert, 'POST', `/api/proposals/${id}/approve`, { role: 'security' });
  assert.notEqual(r.statusCode, 200, r.body);
  assert.match(r.body, /bert's password was reset by root, the author of proposal/);
  // Setting one's own password needs the current one.
  const wrong = await call(bert, 'PUT', '/api/me/password', {
    current: 'not it at all',
    password: 'only bert knows this',
  });
  assert.equal(wrong.statusCode, 403, wrong.body);
  const own = await call(bert, 'PUT', '/api/me/password', {
    current: 'root now knows it',
    password: 'only bert knows this',
  });
  assert.equal(own.statusCode, 200, own.body);
  assert.equal(await me(bert), 401, 'a password change ends the sessions');
  bert = await login('bert', 'only bert knows this');
  // Not for this proposal (review 14b, F1): the author reset bert's password after proposing, so the author could
  // as well have logged in as bert and "set his own"; nothing tells the two apart.
  const still = await call(bert, 'POST', `/api/proposals/${id}/approve`, { role: 'security' });
  assert.notEqual(still.statusCode, 200, still.body);
  assert.match(
    still.body,
    /reset by root, the author of proposal \d+, after proposal \d+ was made/,
  );
  // A proposal made after bert set his own password: his approval counts.
  await new Promise((r) => setTimeout(r, 5));
  const next = submitPolicy(db, {
    text: 'weir: policy/1\nzones:\n  - { name: ctl, members: [10.0.1.0/24], mode: observe, approvals: [security] }\n',
    source: 'p2.yaml',
    actor: 'root',
  });
  const ok = await call(bert, 'POST', `/api/proposals/${next}/approve`, { role: 'security' });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.match(ok.body, /"status":"approved"/);
});
