// Permits for people an LDAP directory vouches for (a real slapd): a person in the template's group gets
// exactly the templated access — a kernel element with exactly the TTL, a gateway that lets through only the
// template's functions and registers — for exactly that long; a wrong password, a person outside the group,
// a template outside its window, a write outside the registers and an expired permit are refused, and each
// outcome is audited (the audit log, and the gateway's event log for refused requests). A detection on the
// permitted client withdraws the permit through the playbooks' revoke path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canBuildLab } from '../lab/plant.js';
import { LdapDirectory } from '../../src/permit/ldap.js';
import { PermitService } from '../../src/permit/service.js';
import { readScopes } from '../../src/enforce/permit-scopes.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import { undoPlaybookAction } from '../../src/respond/playbook-undo.js';
import type { Detection } from '../../src/detect/detection.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { BASE_DN, hasPeers, sleep, startSlapd } from './peers.js';
import {
  auditOf,
  CLIENT,
  lastAudit,
  modbusClient,
  PLC,
  refusedRead,
  scopedElements,
  startPermitLab,
} from './permit-kit.js';

const detection = (src: string): Detection => ({
  id: 'd-permit-1',
  type: 'write_new_range',
  severity: 'high',
  ts: Date.now() / 1000 - 0.01,
  lastTs: Date.now() / 1000,
  count: 1,
  src,
  dst: PLC,
  protocol: 'modbus',
  detail: '',
  zone: 'ctl',
  evidence: { frames: [1], fields: {} },
  explanation: `${src} wrote holding registers it never wrote before`,
  suggestedResponse: '',
  techniques: [],
});

test(
  'LDAP-vouched permits: exactly the template, exactly the TTL, refused otherwise, all audited',
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
    t.after(async () => {
      await lab.close();
      await slapd.stop();
    });
    const directory = new LdapDirectory({
      url: slapd.url,
      bindDn: `uid={user},ou=people,${BASE_DN}`,
      baseDn: BASE_DN,
      userFilter: '(uid={user})',
      groupFilter: '(|(member={dn})(uniqueMember={dn}))',
      timeoutMs: 3000,
    });
    const service = new PermitService({
      policy: lab.policy,
      directory,
      backend: lab.backend,
      audit: lab.audit,
    });
    const ask = (
      user: string,
      password: string,
      template = 'plc-maint',
      client = CLIENT,
      ttl?: number,
    ) => service.request({ user, password, client, template, ttlSeconds: ttl, via: 'test' });

    await t.test(
      'without a permit the gateway refuses the client: no group allows it',
      async () => {
        await refusedRead(lab.gatewayPort);
        const ev = lab.events.find((e) => e.event === 'connection_refused');
        assert.equal(ev?.reason, 'no_rule');
      },
    );

    await t.test('the directory finds the groups by memberOf and by group search', async () => {
      const v = await directory.verify('alice', 'alice-pw');
      assert.ok(v.ok);
      assert.ok(
        v.groups.some((g) => g.toLowerCase() === `cn=plc-maintenance,ou=groups,${BASE_DN}`),
        JSON.stringify(v.groups),
      );
    });

    await t.test(
      'a wrong password is refused and audited, with no element in the kernel',
      async () => {
        const out = await ask('alice', 'not-her-password', 'plc-maint', '127.0.0.3');
        assert.equal(out.ok, false);
        assert.equal(!out.ok && out.reason, 'bad_credentials');
        const a = lastAudit(lab.db, 'permit.refused');
        // Not vouched for: the actor is where the request came from; the name is the claim (review 14, L1).
        assert.equal(a.actor, 'test');
        assert.equal(a.details.user, 'alice');
        assert.equal(a.details.reason, 'bad_credentials');
        assert.equal(a.details.client, '127.0.0.3');
        assert.ok(!JSON.stringify(a).includes('not-her-password'), 'the password is never audited');
        // An empty password would be an anonymous bind: never a proof.
        const empty = await ask('alice', '', 'plc-maint', '127.0.0.3');
        assert.equal(!empty.ok && empty.reason, 'bad_credentials');
        // Filter syntax in the name is refused before anything reaches the directory.
        for (const name of ['*', 'alice)(uid=*', 'alice,ou=people'])
          assert.equal((await ask(name, 'alice-pw', 'plc-maint', '127.0.0.3')).ok, false, name);
        assert.deepEqual(scopedElements(lab.ns), []);
      },
    );

    await t.test('a person outside the group is refused and audited', async () => {
      const out = await ask('bob', 'bob-pw', 'plc-maint', '127.0.0.4');
      assert.equal(!out.ok && out.reason, 'not_in_group');
      const a = lastAudit(lab.db, 'permit.refused');
      assert.equal(a.actor, 'ldap:bob');
      assert.equal(a.details.reason, 'not_in_group');
      assert.deepEqual(scopedElements(lab.ns), []);
    });

    await t.test('a template outside its time window is refused', async () => {
      const out = await ask('alice', 'alice-pw', 'plc-maint-other-day');
      assert.equal(!out.ok && out.reason, 'outside_window');
      assert.equal(lastAudit(lab.db, 'permit.refused').details.reason, 'outside_window');
      const unknown = await ask('alice', 'alice-pw', 'no-such-template');
      assert.equal(!unknown.ok && unknown.reason, 'unknown_template');
      const far = await ask('alice', 'alice-pw', 'plc-maint', '10.9.9.9');
      assert.equal(!far.ok && far.reason, 'client_not_allowed');
    });

    await t.test(
      'in the group: exactly the templated flow, for exactly the TTL asked (capped at the maximum)',
      async () => {
        const long = await ask('alice', 'alice-pw', 'plc-maint', CLIENT, 99_999);
        assert.ok(long.ok);
        assert.equal(long.ttlSeconds, 600, 'capped at max_ttl 10m');
        const out = await ask('alice', 'alice-pw', 'plc-maint', CLIENT, 300);
        // A later grant of the same flow replaces the earlier, its time included.
        assert.ok(out.ok);
        const els = scopedElements(lab.ns);
        assert.equal(els.length, 1);
        assert.equal(els[0]!.flow, `${CLIENT} ${PLC} tcp ${lab.modbusPort}`);
        assert.equal(els[0]!.timeout, 300);
        assert.equal(readScopes(lab.stateDir).length, 1);
        const a = lastAudit(lab.db, 'permit.granted');
        assert.equal(a.actor, 'ldap:alice');
        assert.equal(a.details.template, 'plc-maint');
        assert.equal(a.details.directory_group, 'plc-maintenance');
        assert.equal(a.details.ttl_s, 300);
      },
    );

    await t.test('a fresh permit carries exactly its TTL in the kernel', async () => {
      await lab.backend.revokePermit(
        { client: CLIENT, server: PLC, transport: 'tcp', port: lab.modbusPort },
        'test: start again',
      );
      assert.deepEqual(scopedElements(lab.ns), []);
      const out = await ask('alice', 'alice-pw', 'plc-maint', CLIENT, 300);
      assert.ok(out.ok);
      const els = scopedElements(lab.ns);
      assert.equal(els.length, 1);
      assert.equal(els[0]!.timeout, 300);
      assert.ok(els[0]!.expires! <= 300 && els[0]!.expires! > 290, `expires ${els[0]!.expires}`);
      const rec = readScopes(lab.stateDir).find((r) => r.revokedAt === undefined)!;
      assert.equal(rec.user, 'alice');
      assert.deepEqual(rec.group.functions, [3, 6, 16]);
    });

    await t.test(
      'the gateway lets through only the template: functions 3, 6, 16 on registers 100–109',
      async () => {
        const c = await modbusClient(lab.gatewayPort);
        try {
          const r = await c.readHoldingRegisters(100, 5);
          assert.deepEqual(r.data, [1000, 1010, 1020, 1030, 1040]);
          await c.writeRegister(105, 4242);
          assert.equal(lab.registers[105], 4242);
          await c.writeRegisters(106, [1, 2]);
          assert.deepEqual(lab.registers.slice(106, 108), [1, 2]);
          // Outside the registers: refused by the gateway, never reaching the PLC.
          await assert.rejects(c.writeRegister(200, 7), /Illegal data address|exception|2/i);
          assert.equal(lab.registers[200], 2000);
          await assert.rejects(c.writeRegisters(108, [9, 9, 9]));
          assert.equal(lab.registers[110], 1100);
          // A function the template does not list.
          await assert.rejects(c.writeCoil(1, true));
          await assert.rejects(c.readHoldingRegisters(0, 2));
        } finally {
          c.close(() => undefined);
        }
        const denied = lab.events.filter((e) => e.event === 'denied');
        assert.ok(denied.length >= 4);
        for (const d of denied) {
          assert.equal(d.user, 'alice', 'the refusal names who was permitted');
          assert.equal(d.template, 'plc-maint');
        }
        assert.ok(denied.some((d) => d.reason === 'address_not_allowed' && d.func === 6));
        assert.ok(denied.some((d) => d.reason === 'function_not_allowed' && d.func === 5));
        assert.ok(lab.events.some((e) => e.event === 'permit_used' && e.user === 'alice'));
        // …and audited under the person's name.
        const audited = auditOf(lab.db, 'permit.request_refused');
        assert.equal(audited.length, denied.length);
        assert.ok(
          audited.every((a) => a.actor === 'ldap:alice' && a.details.template === 'plc-maint'),
        );
        assert.ok(
          audited.some((a) => a.details.reason === 'address_not_allowed' && a.details.func === 6),
        );
      },
    );

    await t.test(
      'a detection on the permitted client withdraws its permit (playbook revoke_permits)',
      async () => {
        const c = await modbusClient(lab.gatewayPort);
        await c.readHoldingRegisters(100, 1);
        const runner = new PlaybookRunner({
          db: lab.db,
          active: { policy: lab.policy, sha: 'a'.repeat(64) },
          baseline: plantBaseline(),
          kernel: lab.backend,
          protectedAddresses: [],
        });
        const actions = await runner.onDetection(detection(CLIENT));
        assert.ok(
          actions.some((a) => a.kind === 'revoke_permits' && a.status === 'done'),
          JSON.stringify(actions),
        );
        assert.deepEqual(scopedElements(lab.ns), [], 'the kernel element is gone');
        const audited = auditOf(lab.db, 'playbook.revoke_permits');
        assert.equal(audited.length, 1);
        assert.match(audited[0]!.subject, new RegExp(`${CLIENT} → ${PLC}`));
        const rec = readScopes(lab.stateDir).at(-1)!;
        assert.ok(rec.revokedAt !== undefined);
        // The open connection is judged again without the permit at its next request, and closed.
        await assert.rejects(c.readHoldingRegisters(100, 1));
        c.close(() => undefined);
        assert.ok(
          lab.events.some(
            (e) =>
              e.event === 'connection_closed' &&
              e.user === 'alice' &&
              /revoked/.test(String(e.reason)),
          ),
        );
        assert.equal(lastAudit(lab.db, 'permit.connection_closed').actor, 'ldap:alice');
        // Undone by a person, the permit comes back with its scope — never as a bypass of the gateway.
        const revoked = actions.find((a) => a.kind === 'revoke_permits')!;
        await undoPlaybookAction(
          lab.db,
          { id: revoked.id, actor: 'root', roles: ['admin'] },
          lab.backend,
        );
        const back = scopedElements(lab.ns);
        assert.equal(back.length, 1);
        assert.ok(back[0]!.timeout! <= 300);
        const again = await modbusClient(lab.gatewayPort);
        try {
          await again.readHoldingRegisters(100, 1);
          await assert.rejects(again.writeRegister(200, 1));
        } finally {
          again.close(() => undefined);
        }
      },
    );

    await t.test(
      'an expired permit: the kernel drops it and the gateway refuses the flow',
      async () => {
        // 5 s: the read-back, the connect and the first read must all fall inside it on a loaded machine.
        const out = await ask('alice', 'alice-pw', 'plc-maint', CLIENT, 5);
        const grantedAt = Date.now();
        assert.ok(out.ok);
        assert.equal(scopedElements(lab.ns)[0]!.timeout, 5);
        const c = await modbusClient(lab.gatewayPort);
        await c.readHoldingRegisters(100, 1);
        await sleep(Math.max(0, grantedAt + 5600 - Date.now()));
        assert.deepEqual(scopedElements(lab.ns), [], 'the kernel let it lapse');
        await assert.rejects(c.readHoldingRegisters(100, 1));
        c.close(() => undefined);
        const before = lab.events.length;
        await refusedRead(lab.gatewayPort);
        const refused = lab.events.slice(before).find((e) => e.event === 'connection_refused');
        assert.equal(refused?.reason, 'no_rule');
      },
    );
  },
);
