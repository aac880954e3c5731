// Permits for people a RADIUS server vouches for (a real FreeRADIUS, PAP): the Access-Accept's Class /
// Filter-Id names the group; the permit is the template's flow for exactly the TTL, scoped at the gateway; a
// wrong password (Access-Reject), a wrong shared secret (an answer we cannot trust, or none) and a person
// outside the group are refused and audited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { canBuildLab } from '../lab/plant.js';
import { RadiusDirectory } from '../../src/permit/radius.js';
import { PermitService } from '../../src/permit/service.js';
import { hasPeers, startFreeradius } from './peers.js';
import {
  CLIENT,
  lastAudit,
  modbusClient,
  PLC,
  scopedElements,
  startPermitLab,
} from './permit-kit.js';

const SECRET = 'plant-radius-secret';

test(
  'RADIUS-vouched permits: Class names the group; wrong password or secret refused; all audited',
  { timeout: 60_000 },
  async (t) => {
    if (!canBuildLab() || !hasPeers()) {
      if (process.env.CI === 'true') throw new Error('needs root, slapd and freeradius');
      return t.skip('needs root, slapd and freeradius');
    }
    const radius = await startFreeradius(
      [
        { user: 'carol', password: 'carol-pw', group: 'plc-maintenance' },
        { user: 'dave', password: 'dave-pw', group: 'office' },
      ],
      SECRET,
    );
    const lab = await startPermitLab();
    t.after(async () => {
      await lab.close();
      await radius.stop();
    });
    const secretFile = path.join(lab.dir, 'radius.secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const wrongFile = path.join(lab.dir, 'wrong.secret');
    writeFileSync(wrongFile, 'not-the-secret\n', { mode: 0o600 });
    const service = (file: string): PermitService =>
      new PermitService({
        policy: lab.policy,
        directory: new RadiusDirectory({
          host: '127.0.0.1',
          port: radius.port,
          secretFile: file,
          timeoutMs: 3000,
          retries: 2,
        }),
        backend: lab.backend,
        audit: lab.audit,
      });
    const ask = (s: PermitService, user: string, password: string, client = CLIENT) =>
      s.request({ user, password, client, template: 'plc-maint', ttlSeconds: 120, via: 'test' });

    await t.test('a wrong password is refused (Access-Reject) and audited', async () => {
      const out = await ask(service(secretFile), 'carol', 'guess', '127.0.0.3');
      assert.equal(!out.ok && out.reason, 'bad_credentials');
      const a = lastAudit(lab.db, 'permit.refused');
      assert.equal(a.actor, 'test', 'not vouched for: where the request came from (review 14, L1)');
      assert.equal(a.details.reason, 'bad_credentials');
      assert.ok(!JSON.stringify(a).includes('guess'));
      assert.deepEqual(scopedElements(lab.ns), []);
    });

    await t.test(
      'a wrong shared secret is refused and audited (the answer is not believed)',
      async () => {
        const out = await ask(service(wrongFile), 'carol', 'carol-pw', '127.0.0.3');
        assert.equal(out.ok, false);
        assert.equal(!out.ok && out.reason, 'directory_unreachable');
        const a = lastAudit(lab.db, 'permit.refused');
        assert.equal(a.actor, 'test');
        assert.equal(a.details.user, 'carol');
        assert.ok(!JSON.stringify(a).includes('not-the-secret'), 'the secret is never audited');
        assert.ok(!JSON.stringify(a).includes(SECRET));
        assert.deepEqual(scopedElements(lab.ns), []);
      },
    );

    await t.test('a person whose Class names another group is refused', async () => {
      const out = await ask(service(secretFile), 'dave', 'dave-pw', '127.0.0.4');
      assert.equal(!out.ok && out.reason, 'not_in_group');
      assert.equal(lastAudit(lab.db, 'permit.refused').details.reason, 'not_in_group');
    });

    await t.test(
      'in the group: the templated flow for exactly the TTL, scoped at the gateway',
      async () => {
        const out = await ask(service(secretFile), 'carol', 'carol-pw');
        assert.ok(out.ok);
        const els = scopedElements(lab.ns);
        assert.equal(els.length, 1);
        assert.equal(els[0]!.flow, `${CLIENT} ${PLC} tcp ${lab.modbusPort}`);
        assert.equal(els[0]!.timeout, 120);
        const a = lastAudit(lab.db, 'permit.granted');
        assert.equal(a.actor, 'radius:carol');
        assert.equal(a.details.directory_group, 'plc-maintenance');
        const c = await modbusClient(lab.gatewayPort);
        try {
          await c.writeRegister(101, 77);
          assert.equal(lab.registers[101], 77);
          await assert.rejects(c.writeRegister(250, 1));
          assert.equal(lab.registers[250], 2500);
        } finally {
          c.close(() => undefined);
        }
        const denied = lab.events.filter((e) => e.event === 'denied');
        assert.equal(denied.length, 1);
        assert.equal(denied[0]!.user, 'carol');
        assert.equal(denied[0]!.reason, 'address_not_allowed');
      },
    );
  },
);
