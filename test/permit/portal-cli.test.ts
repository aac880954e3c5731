// The two ways a person asks for a permit besides the library: the access portal served by Weir (its form is
// the only public part, and it is rate-limited per address; it lets in only the address it is used from) and
// `weir permit-request` (the password from standard input, never the command line). Both against a real slapd,
// with the kernel side in the test's own network namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canBuildLab } from '../lab/plant.js';
import { buildServer } from '../../src/server/app.js';
import { DEFAULT_SETTINGS } from '../../src/settings/model.js';
import { SESSION_COOKIE } from '../../src/server/auth.js';
import { weir } from '../helpers/weir-cli.js';
import { BASE_DN, hasPeers, startSlapd } from './peers.js';
import { auditOf, CLIENT, lastAudit, PLC, scopedElements, startPermitLab } from './permit-kit.js';

test(
  'the access portal and `weir permit-request`: directory-checked, rate-limited, audited',
  { timeout: 90_000 },
  async (t) => {
    if (!canBuildLab() || !hasPeers()) {
      if (process.env.CI === 'true') throw new Error('needs root, slapd and freeradius');
      return t.skip('needs root, slapd and freeradius');
    }
    const slapd = await startSlapd([
      { uid: 'alice', password: 'alice-pw', groups: ['plc-maintenance'] },
      { uid: 'bob', password: 'bob-pw', groups: ['office'] },
    ]);
    const lab = await startPermitLab();
    const ldap = {
      ...DEFAULT_SETTINGS.iam.ldap,
      url: slapd.url,
      bind_dn: `uid={user},ou=people,${BASE_DN}`,
      base_dn: BASE_DN,
    };
    const iam = {
      ...DEFAULT_SETTINGS.iam,
      ldap,
      portal: { ...DEFAULT_SETTINGS.iam.portal, per_address_max: 3, per_address_s: 60 },
    };
    const app = await buildServer({ db: lab.db, stateDir: lab.stateDir, iam });
    t.after(async () => {
      await app.close();
      await lab.close();
      await slapd.stop();
    });
    const form = (fields: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/portal',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      });

    await t.test(
      'the portal page is public and shows the templates and the address let in',
      async () => {
        const r = await app.inject({ method: 'GET', url: '/portal' });
        assert.equal(r.statusCode, 200);
        assert.match(r.headers['content-type'] as string, /text\/html/);
        assert.match(r.body, /<form method="post" action="\/portal">/);
        assert.match(r.body, /<option value="plc-maint">/);
        assert.match(r.body, new RegExp(`<strong>${CLIENT}</strong>`));
        // Nothing else about permits is public.
        assert.equal((await app.inject({ method: 'GET', url: '/api/permits' })).statusCode, 401);
        assert.equal(
          (await app.inject({ method: 'POST', url: '/api/permits', payload: {} })).statusCode,
          401,
        );
      },
    );

    await t.test('a wrong password at the portal is refused and audited', async () => {
      const r = await form({ user: 'alice', password: 'nope', template: 'plc-maint' });
      assert.equal(r.statusCode, 403);
      assert.match(r.body, /Refused/);
      const a = lastAudit(lab.db, 'permit.refused');
      assert.equal(a.details.via, `portal ${CLIENT}`);
      assert.equal(a.details.reason, 'bad_credentials');
      assert.deepEqual(scopedElements(lab.ns), []);
    });

    await t.test(
      'the right person at the portal gets the template for the address they use',
      async () => {
        const r = await form({
          user: 'alice',
          password: 'alice-pw',
          template: 'plc-maint',
          ttl_s: '240',
        });
        assert.equal(r.statusCode, 200, r.body);
        assert.match(r.body, /Permitted/);
        const els = scopedElements(lab.ns);
        assert.equal(els.length, 1);
        assert.equal(els[0]!.flow, `${CLIENT} ${PLC} tcp ${lab.modbusPort}`);
        assert.equal(els[0]!.timeout, 240);
        assert.equal(lastAudit(lab.db, 'permit.granted').details.via, `portal ${CLIENT}`);
        // A person cannot ask for another address: a `client` field is dropped, the address used is let in.
        const other = await form({
          user: 'alice',
          password: 'alice-pw',
          template: 'plc-maint',
          client: '127.0.0.4',
        });
        assert.equal(other.statusCode, 200);
        assert.deepEqual(
          scopedElements(lab.ns).map((e) => e.flow.split(' ')[0]),
          [CLIENT],
        );
      },
    );

    await t.test('the portal is rate-limited per address', async () => {
      const r = await form({ user: 'bob', password: 'bob-pw', template: 'plc-maint' });
      assert.equal(r.statusCode, 429);
      assert.ok(Number(r.headers['retry-after']) > 0);
    });

    await t.test(
      'the API route: a session allowed to enforce, and the person still proves themselves',
      async () => {
        const cookie = `${SESSION_COOKIE}=${readFileSync(lab.tokenFile, 'utf8').trim()}`;
        const bad = await app.inject({
          method: 'POST',
          url: '/api/permits',
          headers: { cookie },
          payload: { user: 'bob', password: 'bob-pw', template: 'plc-maint', client: '127.0.0.4' },
        });
        assert.equal(bad.statusCode, 403);
        assert.equal(bad.json().reason, 'not_in_group');
        assert.equal(lastAudit(lab.db, 'permit.refused').details.via, 'api root');
        const list = await app.inject({ method: 'GET', url: '/api/permits', headers: { cookie } });
        assert.equal(list.statusCode, 200);
        const rows = list.json() as Array<{ user: string; state: string }>;
        assert.deepEqual(
          rows.map((x) => [x.user, x.state]),
          [['alice', 'active']],
        );
        assert.ok(!list.body.includes('alice-pw'));
      },
    );

    await t.test(
      'many addresses guessing one account wait longer after each wrong password, unseen by the directory and audited; the address that won a permit for it never waits (review 12, L4)',
      async () => {
        const portal = { ...iam.portal, per_account_free: 2, per_account_delay_s: 1 };
        const app2 = await buildServer({
          db: lab.db,
          stateDir: lab.stateDir,
          iam: { ...iam, portal },
        });
        try {
          const from = (ip: string, password: string) =>
            app2.inject({
              method: 'POST',
              url: '/portal',
              remoteAddress: ip,
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              payload: new URLSearchParams({
                user: 'alice',
                password,
                template: 'plc-maint',
                ttl_s: '60',
              }).toString(),
            });
          const checked = () =>
            auditOf(lab.db, 'permit.refused').length + auditOf(lab.db, 'permit.granted').length;
          assert.equal((await from('127.0.0.4', 'alice-pw')).statusCode, 200, "alice's laptop");
          assert.equal((await from('127.0.0.1', 'guess-1')).statusCode, 403);
          assert.equal((await from('127.0.0.3', 'guess-2')).statusCode, 403);
          let a = lastAudit(lab.db, 'permit.account_delayed');
          assert.equal(a.subject, 'ldap:alice');
          assert.deepEqual([a.details.wrong_in_a_row, a.details.delay_s], [2, 1]);
          // Now even the right password waits, from any other address, and the directory hears nothing.
          const seen = checked();
          const held = await from('127.0.0.3', 'alice-pw');
          assert.equal(held.statusCode, 429);
          assert.match(held.body, /Too many wrong passwords for this account/);
          assert.equal(held.headers['retry-after'], '1');
          assert.equal(checked(), seen, 'not sent to the directory');
          // A delay, not a lock: once it has passed the account is checked again (and waits twice as long).
          await new Promise((r) => setTimeout(r, 1100));
          assert.equal((await from('127.0.0.3', 'guess-3')).statusCode, 403);
          a = lastAudit(lab.db, 'permit.account_delayed');
          assert.deepEqual(
            [a.details.wrong_in_a_row, a.details.delay_s, a.details.turned_away_before],
            [3, 2, 1],
          );
          assert.equal((await from('127.0.0.1', 'alice-pw')).statusCode, 429);
          // Alice's own laptop, which won a permit for her account, is never held.
          assert.equal((await from('127.0.0.4', 'alice-pw')).statusCode, 200);
        } finally {
          await app2.close();
        }
      },
    );

    await t.test('`weir permit-request` reads the password from stdin and is audited', async () => {
      const settings = path.join(lab.dir, 'weir.yaml');
      writeFileSync(
        settings,
        `weir: settings/1\niam:\n  ldap:\n    url: "${slapd.url}"\n    bind_dn: "uid={user},ou=people,${BASE_DN}"\n    base_dn: "${BASE_DN}"\n`,
      );
      const args = (user: string, client: string) => [
        '--config',
        settings,
        'permit-request',
        '--user',
        user,
        '--client',
        client,
        '--template',
        'plc-maint',
        '--ttl',
        '3m',
        '--db',
        lab.storePath,
        '--family',
        'inet',
        '--netns',
        lab.ns,
        '--state-dir',
        lab.stateDir,
        '--password-stdin',
      ];
      const wrong = await weir(args('alice', '127.0.0.3'), { input: 'guess\n' });
      assert.equal(wrong.code, 3, wrong.stderr);
      assert.match(wrong.stderr, /refused: bad credentials/);
      const ok = await weir(args('alice', '127.0.0.3'), { input: 'alice-pw\n' });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /127\.0\.0\.3 → 127\.0\.0\.2 tcp\/\d+ permitted for 180 s/);
      const el = scopedElements(lab.ns).find((e) => e.flow.startsWith('127.0.0.3 '));
      assert.equal(el?.timeout, 180);
      const a = lastAudit(lab.db, 'permit.granted');
      assert.equal(a.actor, 'ldap:alice');
      assert.equal(a.details.via, 'cli');
      // There is no way to give the password on the command line.
      const argv = await weir([...args('alice', '127.0.0.3'), '--password', 'alice-pw']);
      assert.notEqual(argv.code, 0);
      assert.match(argv.stderr, /unknown option '--password'/);
    });
  },
);
