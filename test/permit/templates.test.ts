// The policy's permit_templates section (what a directory-vouched person may be let in to) and the pure
// parts of the directory side: group matching and account names that never reach a directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/load.js';
import { policyToYaml } from '../../src/policy/write.js';
import { inGroup, notAnAccount } from '../../src/permit/directory.js';
import { LdapDirectory } from '../../src/permit/ldap.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { enforcementPlan } from '../../src/enforce/steer.js';
import { PermitService } from '../../src/permit/service.js';
import type { EnforcementBackend, PermitFlow } from '../../src/enforce/backend.js';

const POLICY = (template: string, extra = '') => `weir: policy/1
assets:
  - { name: PLC-1, ip: 10.0.0.21 }
zones:
  - { name: eng, members: [10.0.0.0/28] }
  - { name: ctl, members: [PLC-1], mode: enforce }
conduits: [{ name: c, from: eng, to: ctl }]
windows:
  - { name: shift, days: [mon, tue, wed, thu, fri], from: "06:00", to: "18:00" }
${extra}permit_templates:
  - name: plc-maint
    directory_groups: [plc-maintenance, "CN=OT Engineers,OU=Groups,DC=plant,DC=local"]
    zone: ctl
    servers: [PLC-1]
    clients: [eng]
    protocol: modbus
${template}`;

test('a template: servers by name, functions by name or number, registers, TTL and windows', () => {
  const r = parsePolicy(
    POLICY(`    functions: [read_holding_registers, write_single_register, 16]
    addresses: { holding_register: [100-109, 200] }
    access: read-write
    max_ttl: 2h
    windows: [shift]
`),
    'p.yaml',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const t = r.policy.permitTemplates![0]!;
  assert.deepEqual(t.servers, ['10.0.0.21']);
  assert.deepEqual(t.functions, [3, 6, 16]);
  assert.deepEqual(t.addresses, {
    holding_register: [
      [100, 109],
      [200, 200],
    ],
  });
  assert.deepEqual(t.ports, [502], 'the protocol port by default');
  assert.equal(t.transport, 'tcp');
  assert.equal(t.maxTtl, 7200);
  assert.equal(t.access, 'read-write');
  assert.deepEqual(t.windows, ['shift']);
  // A policy without the section has none (and other parts of Weir see the same Policy as before).
  const plain = parsePolicy(
    POLICY('    max_ttl: 1h\n').replace(/permit_templates:[\s\S]*/, ''),
    'p.yaml',
  );
  assert.ok(plain.ok);
  assert.equal(plain.policy.permitTemplates, undefined);
});

test('template mistakes are errors that name the line and field', () => {
  const cases: Array<[string, RegExp]> = [
    [
      '    max_ttl: 1h\n    functions: [write_single_register]\n',
      /write function, but the template is read-only/,
    ],
    ['    max_ttl: 13h\n', /at most 12 h/],
    ['    max_ttl: 1h\n    windows: [night]\n', /no window named 'night'/],
    ['    max_ttl: 1h\n    functions: [launch_missiles]\n', /not a modbus function/],
    ['    max_ttl: 1h\n    addresses: { holding_register: [9-1] }\n', /runs backwards/],
    ['    max_ttl: forever\n', /max_ttl/],
  ];
  for (const [tpl, want] of cases) {
    const r = parsePolicy(POLICY(tpl), 'p.yaml');
    assert.equal(r.ok, false, tpl);
    const msg = !r.ok ? r.errors.map((e) => `${e.line}:${e.field} ${e.message}`).join('\n') : '';
    assert.match(msg, want, tpl);
    assert.ok(!r.ok && r.errors.every((e) => e.line > 1), msg);
  }
  const outside = parsePolicy(
    POLICY('    max_ttl: 1h\n').replace('servers: [PLC-1]', 'servers: [10.0.0.5]'),
    'p.yaml',
  );
  assert.ok(!outside.ok && /not in zone 'ctl'/.test(outside.errors[0]!.message));
  const noZone = parsePolicy(
    POLICY('    max_ttl: 1h\n').replace('zone: ctl', 'zone: dmz'),
    'p.yaml',
  );
  assert.ok(!noZone.ok && noZone.errors.some((e) => /no zone named 'dmz'/.test(e.message)));
  const twice = parsePolicy(
    POLICY('    max_ttl: 1h\n') +
      '  - { name: plc-maint, directory_groups: [x], zone: ctl, servers: [PLC-1], protocol: modbus, max_ttl: 1h }\n',
    'p.yaml',
  );
  assert.ok(!twice.ok && twice.errors.some((e) => /second permit template/.test(e.message)));
});

test('directory groups match by common name or DN, whatever the case and spacing', () => {
  const memberOf = [
    'cn=OT Engineers, ou=Groups, dc=plant, dc=local',
    'CN=Domain Users,CN=Users,DC=plant,DC=local',
  ];
  assert.equal(
    inGroup(memberOf, ['CN=OT Engineers,OU=Groups,DC=plant,DC=local']),
    'CN=OT Engineers,OU=Groups,DC=plant,DC=local',
  );
  assert.equal(inGroup(memberOf, ['ot engineers']), 'ot engineers');
  assert.equal(inGroup(['plc-maintenance'], ['plc-maintenance']), 'plc-maintenance');
  assert.equal(inGroup(memberOf, ['plc-maintenance']), null);
  // A group named like another's DN suffix does not match.
  assert.equal(inGroup(['cn=plc-maintenance-readers,ou=groups'], ['plc-maintenance']), null);
});

test('names that are filter or DN syntax never reach a directory', () => {
  for (const bad of [
    '*',
    'alice)(uid=*',
    'alice,ou=admins',
    'a\u0000b',
    '',
    ' alice',
    'x'.repeat(200),
  ])
    assert.equal(notAnAccount(bad)?.ok, false, JSON.stringify(bad));
  for (const good of ['alice', 'a.smith', 'j-doe', 'jdoe@plant.local', 'svc_vendor1'])
    assert.equal(notAnAccount(good), null, good);
});

test("a template's servers are steered to the gateway, even when no context group names them", () => {
  const r = parsePolicy(POLICY('    functions: [3]\n    max_ttl: 1h\n'), 'p.yaml');
  assert.ok(r.ok);
  const cp = new CompiledPolicy(r.policy);
  assert.deepEqual(
    enforcementPlan(cp, '10.0.0.2').targets.map((x) => `${x.server}:${x.port} ${x.protocol}`),
    ['10.0.0.21:502 modbus'],
  );
  // Without a gateway, nothing would hold a permit to its functions: applying refuses, naming the template.
  assert.deepEqual(
    enforcementPlan(cp, null).unenforceable.map((u) => u.group),
    ['permit template plc-maint'],
  );
  assert.deepEqual(
    enforcementPlan(cp, null, { portLevelOk: true }).portLevel.map((u) => u.group),
    ['permit template plc-maint'],
  );
});

test('a limited template on a protocol the gateway cannot read is refused at apply and at grant, never widened', async () => {
  // Review 12, R10: BACnet (UDP), HART-IP and S7comm-plus have no gateway dissector; a permit opens the flow in
  // the kernel, so "read-only" there would be full access (WriteProperty, ReinitializeDevice, program download).
  const text = `weir: policy/1
zones:
  - { name: eng, members: [10.0.0.0/28] }
  - { name: ctl, members: [10.0.0.21, 10.0.0.22], mode: enforce }
  - { name: lab, members: [10.0.0.40], mode: simulate }
permit_templates:
  - { name: bms-look, directory_groups: [g], zone: ctl, servers: [10.0.0.21], protocol: bacnet, max_ttl: 1h }
  - { name: hart-look, directory_groups: [g], zone: ctl, servers: [10.0.0.21], protocol: hartip, access: read-only, max_ttl: 1h }
  - { name: s7p-fn, directory_groups: [g], zone: ctl, servers: [10.0.0.22], protocol: s7comm_plus, access: read-write, functions: [0x04ca], max_ttl: 1h }
  - { name: bms-full, directory_groups: [g], zone: ctl, servers: [10.0.0.21], protocol: bacnet, access: read-write, max_ttl: 1h }
  - { name: lab-look, directory_groups: [g], zone: lab, servers: [10.0.0.40], protocol: bacnet, max_ttl: 1h }
  - { name: plc-look, directory_groups: [g], zone: ctl, servers: [10.0.0.22], protocol: modbus, max_ttl: 1h }
`;
  const r = parsePolicy(text, 'p.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const cp = new CompiledPolicy(r.policy);
  for (const opts of [{}, { portLevelOk: true }]) {
    const plan = enforcementPlan(cp, '10.0.0.2', opts);
    assert.deepEqual(
      plan.unenforceable.map((u) => u.group),
      ['permit template bms-look', 'permit template hart-look', 'permit template s7p-fn'],
    );
    assert.match(plan.unenforceable[0]!.why, /read-only.*not bacnet over udp.*access: read-write/);
    // Read-write and whole: enforced by flow, and said so; the modbus one is steered as before.
    assert.deepEqual(
      plan.portLevel.map((u) => u.group),
      ['permit template bms-full'],
    );
    assert.deepEqual(
      plan.targets.map((x) => `${x.server}:${x.port}`),
      ['10.0.0.22:502'],
    );
  }
  const opened: string[] = [];
  const service = new PermitService({
    policy: r.policy,
    directory: {
      kind: 'test',
      verify: async (user: string) => ({ ok: true as const, user, groups: ['g'] }),
    },
    backend: {
      permit: async (flow: PermitFlow, ttl: number) => {
        opened.push(`${flow.server}:${flow.port}`);
        return { flow, ttlSeconds: ttl, until: 0, comment: '' };
      },
      revokePermit: async () => undefined,
    } as unknown as EnforcementBackend,
    audit: () => undefined,
  });
  const ask = (template: string) =>
    service.request({ user: 'u', password: 'p', client: '10.0.0.5', template, via: 'test' });
  const refused = await ask('bms-look');
  assert.equal(!refused.ok && refused.reason, 'limits_not_enforceable');
  assert.match(
    !refused.ok ? refused.detail : '',
    /bms-look.*a permit would open the whole protocol/,
  );
  assert.equal((await ask('s7p-fn')).ok, false);
  assert.deepEqual(opened, [], 'nothing reached the kernel');
  assert.ok((await ask('bms-full')).ok, 'a read-write template is a permit by flow');
  assert.ok(
    (await ask('lab-look')).ok,
    'a zone in simulate enforces nothing: the permit is a record',
  );
  assert.ok((await ask('plc-look')).ok);
});

test('a permit of a windowed template ends with its window at the latest', async () => {
  // The directory and the kernel are stand-ins here: the real ones are in ldap-/radius-permit.test.ts.
  const text = `weir: policy/1
zones:
  - { name: eng, members: [10.0.0.0/28] }
  - { name: ctl, members: [10.0.0.21], mode: enforce }
windows:
  - { name: morning, days: [mon, tue, wed, thu, fri, sat, sun], from: "06:00", to: "12:00" }
  - { name: night, days: [mon, tue, wed, thu, fri, sat, sun], from: "22:00", to: "02:00" }
permit_templates:
  - { name: m, directory_groups: [g], zone: ctl, servers: [10.0.0.21], protocol: modbus, functions: [3], max_ttl: 2h, windows: [morning] }
  - { name: n, directory_groups: [g], zone: ctl, servers: [10.0.0.21], protocol: modbus, functions: [3], max_ttl: 8h, windows: [night] }
`;
  const r = parsePolicy(text, 'p.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const given: number[] = [];
  const backend = {
    permit: async (flow: PermitFlow, ttl: number) => {
      given.push(ttl);
      return { flow, ttlSeconds: ttl, until: 0, comment: '' };
    },
    revokePermit: async () => undefined,
  } as unknown as EnforcementBackend;
  const directory = {
    kind: 'test',
    verify: async (user: string) => ({ ok: true as const, user, groups: ['g'] }),
  };
  const at = (iso: string) =>
    new PermitService({
      policy: r.policy,
      directory,
      backend,
      audit: () => undefined,
      now: () => Date.parse(iso) / 1000,
    });
  const ask = (s: PermitService, template: string) =>
    s.request({ user: 'u', password: 'p', client: '10.0.0.5', template, via: 'test' });
  assert.ok((await ask(at('2026-03-02T11:30:00Z'), 'm')).ok);
  assert.equal(given.at(-1), 30 * 60, 'half an hour of the morning left, under the 2 h maximum');
  assert.ok((await ask(at('2026-03-02T07:00:00Z'), 'm')).ok);
  assert.equal(given.at(-1), 2 * 3600, 'the maximum, well inside the window');
  assert.ok((await ask(at('2026-03-02T23:00:00Z'), 'n')).ok);
  assert.equal(given.at(-1), 3 * 3600, 'across midnight: until 02:00');
  assert.ok((await ask(at('2026-03-03T01:00:00Z'), 'n')).ok);
  assert.equal(given.at(-1), 3600);
  const closed = await ask(at('2026-03-02T13:00:00Z'), 'm');
  assert.equal(!closed.ok && closed.reason, 'outside_window');
});

test('templates survive the policy being written back as YAML (weir policy propose and friends)', () => {
  const r = parsePolicy(
    POLICY(`    functions: [3, 6]
    addresses: { holding_register: [100-109, 200] }
    access: read-write
    max_ttl: 90m
    windows: [shift]
`),
    'p.yaml',
  );
  assert.ok(r.ok);
  const again = parsePolicy(policyToYaml(r.policy), 'again.yaml');
  assert.ok(again.ok, JSON.stringify(!again.ok && again.errors));
  assert.deepEqual(again.policy.permitTemplates, r.policy.permitTemplates);
});

test('an LDAP directory across the network must be ldaps: passwords never travel in clear', () => {
  const o = {
    bindDn: 'uid={user},ou=people,dc=x',
    baseDn: 'dc=x',
    userFilter: '(uid={user})',
    groupFilter: '(member={dn})',
    timeoutMs: 1000,
  };
  assert.throws(() => new LdapDirectory({ ...o, url: 'ldap://dc1.plant.local' }), /ldaps:\/\//);
  assert.throws(() => new LdapDirectory({ ...o, url: 'ldap://10.0.0.5:389' }), /in clear/);
  assert.doesNotThrow(() => new LdapDirectory({ ...o, url: 'ldaps://dc1.plant.local' }));
  assert.doesNotThrow(() => new LdapDirectory({ ...o, url: 'ldap://127.0.0.1:3890' }));
});
