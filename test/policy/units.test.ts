// Station addresses behind one server address (review 12, R11): a Modbus TCP/RTU gateway's serial slaves by
// unit id, a DNP3 port server's outstations by link address. A group's write limits for one station must not
// admit the same writes to another one, nor to the broadcast unit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import { dnp3Tcp } from '../../src/dissect/protocols/dnp3.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { policyToYaml } from '../../src/policy/write.js';
import { permitGroup } from '../../src/policy/permit-templates.js';
import { enforcementPlan } from '../../src/enforce/steer.js';
import { fleetPermitGroup, makePermit, permitProblem } from '../../src/fleet/permit-doc.js';
import { StreamInspector } from '../../src/enforce/gateway/inspector.js';
import { crob, dnp3Frame, modbusRequest } from '../helpers/ics-frames.js';

const HEAD = `weir: policy/1
assets: [{ name: HMI-1, ip: 10.0.0.10 }, { name: MB-GW, ip: 10.0.0.21 }, { name: RTU-GW, ip: 10.0.0.22 }]
zones:
  - { name: sup, members: [HMI-1], mode: monitor }
  - { name: ctl, members: [MB-GW, RTU-GW], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
`;

function compile(groups: string): CompiledPolicy {
  const r = parsePolicy(`${HEAD}groups:\n${groups}`, 'p.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return new CompiledPolicy(r.policy);
}

function verdict(
  cp: CompiledPolicy,
  d: StreamDissector,
  server: string,
  port: number,
  bytes: Uint8Array,
): string {
  const ctx = {
    frame: 0,
    ts: 0,
    transport: 'tcp' as const,
    srcMac: '',
    dstMac: '',
    srcIp: '10.0.0.10',
    dstIp: server,
    srcPort: 40000,
    dstPort: port,
  };
  const ins = new StreamInspector(d, cp.rules('10.0.0.10', server, 'tcp', port), ctx, {
    deny: 'exception',
    budgetMicros: 5000,
  });
  const a = ins.push(bytes);
  return a[0]!.kind === 'forward' ? 'forward' : ins.events.map((e) => e.reason).join(',');
}

const writeReg = (unit: number, reg: number): Uint8Array =>
  modbusRequest(1, 6, [reg >> 8, reg & 255, 0, 1], { unit });

const VFD = `  - { name: vfd-speed, conduit: c, clients: [HMI-1], servers: [MB-GW], protocol: modbus,
      functions: [read_holding_registers, write_single_register], addresses: { holding_register: [100-110] },
      access: read-write`;

test('a Modbus group naming unit 1 admits its writes there only: another slave and the broadcast unit are refused', () => {
  const cp = compile(`${VFD}, units: [1] }\n`);
  assert.equal(verdict(cp, modbus, '10.0.0.21', 502, writeReg(1, 100)), 'forward');
  assert.match(verdict(cp, modbus, '10.0.0.21', 502, writeReg(5, 100)), /address_not_allowed/);
  assert.match(verdict(cp, modbus, '10.0.0.21', 502, writeReg(0, 100)), /address_not_allowed/);
  // The register list still holds on the named unit.
  assert.match(verdict(cp, modbus, '10.0.0.21', 502, writeReg(1, 200)), /address_not_allowed/);
});

test('without `units:` a group stands for every station, as before', () => {
  const cp = compile(`${VFD} }\n`);
  assert.equal(verdict(cp, modbus, '10.0.0.21', 502, writeReg(5, 100)), 'forward');
});

test('a DNP3 group naming outstation 10 refuses a control to outstation 11 behind the same port server', () => {
  const cp =
    compile(`  - { name: ops, conduit: c, clients: [HMI-1], servers: [RTU-GW], protocol: dnp3,
      functions: [select, operate, direct_operate, read], access: read-write, units: [10] }\n`);
  const operate = (dest: number): Uint8Array => dnp3Frame(dest, 1, [0xc0, 0xc0, 0x05, ...crob(3)]);
  assert.equal(verdict(cp, dnp3Tcp, '10.0.0.22', 20000, operate(10)), 'forward');
  assert.match(verdict(cp, dnp3Tcp, '10.0.0.22', 20000, operate(11)), /address_not_allowed/);
  // All-stations broadcast.
  assert.match(verdict(cp, dnp3Tcp, '10.0.0.22', 20000, operate(0xffff)), /address_not_allowed/);
});

test('units are refused where they mean nothing or are out of range, with the place named', () => {
  const bad = (g: string): string[] => {
    const r = parsePolicy(`${HEAD}groups:\n${g}`, 'p.yaml');
    assert.equal(r.ok, false);
    return r.ok ? [] : r.errors.map((e) => `${e.field}: ${e.message}`);
  };
  assert.match(
    bad(
      `  - { name: s7, conduit: c, clients: [HMI-1], servers: [MB-GW], protocol: s7comm, units: [1] }\n`,
    ).join('\n'),
    /units.*modbus, dnp3 or iec104/,
  );
  assert.match(
    bad(`${VFD}, units: [1, 300] }\n`).join('\n'),
    /300 is not a modbus station address/,
  );
});

test('a units-only limit is steered to the gateway, survives writing the policy out, and travels with permits', () => {
  const cp =
    compile(`  - { name: u, conduit: c, clients: [HMI-1], servers: [MB-GW], protocol: modbus,
      access: read-write, units: [1] }\n`);
  const plan = enforcementPlan(cp, '10.0.0.1');
  assert.deepEqual(
    plan.targets.map((t) => `${t.server}:${t.port}`),
    ['10.0.0.21:502'],
  );
  const first = parsePolicy(
    `${HEAD}groups:\n${VFD}, units: [1] }\n  - { name: ua, conduit: c, clients: [HMI-1], servers: [RTU-GW], protocol: opcua, ports: [4840], secured_channels: allow }\n`,
    'p.yaml',
  );
  assert.ok(first.ok, JSON.stringify(!first.ok && first.errors));
  const r = parsePolicy(policyToYaml(first.policy), 'again.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.policy.groups[0]!.units, [1]);
  assert.equal(r.policy.groups[1]!.securedChannels, 'allow');

  const t = parsePolicy(
    `${HEAD}groups: []\npermit_templates:
  - { name: tune, directory_groups: [eng], zone: ctl, servers: [MB-GW], protocol: modbus, access: read-write,
      units: [2], max_ttl: 1h }\n`,
    'p.yaml',
  );
  assert.ok(t.ok, JSON.stringify(!t.ok && t.errors));
  assert.deepEqual(permitGroup(t.policy.permitTemplates![0]!, '10.0.0.10', '10.0.0.21').units, [2]);

  const p = makePermit(
    {
      client: '10.0.0.10',
      server: '10.0.0.21',
      zone: 'ctl',
      protocol: 'modbus',
      access: 'read-write',
      units: [2],
      ttlSeconds: 600,
      grantedBy: 'eng',
    },
    1000,
  );
  assert.deepEqual(fleetPermitGroup(p).units, [2]);
  assert.equal(permitProblem(p), null);
  assert.match(String(permitProblem({ ...p, units: [70000] })), /not a modbus station address/);
});
