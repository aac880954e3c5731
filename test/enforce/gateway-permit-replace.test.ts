// A person's read-write permit is withdrawn and a read-only one granted for the same flow (a later grant replaces
// the earlier): the connection they already hold through the gateway must lose the write at its next request,
// exactly as a new connection would, not keep the old permit's rights until it idles out. The PLC is a real
// Modbus server (modbus-serial) on a loopback address of its own; the permits are the records the enforcement
// host writes (addScope), read by the gateway's ScopeReader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import type { ContextGroup } from '../../src/policy/model.js';
import { Gateway } from '../../src/enforce/gateway/gateway.js';
import { addScope, ScopeReader } from '../../src/enforce/permit-scopes.js';
import { freeTcpPort } from '../permit/peers.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const require = createRequire(import.meta.url);
const { default: ModbusRTU, ServerTCP } = {
  default: require('modbus-serial'),
  ...require('modbus-serial'),
} as any;

const base = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
const PLC = `${base}.21`,
  ENG = `${base}.10`,
  LISTEN = `${base}.2`;
const POLICY = `weir: policy/1
zones:
  - { name: eng, members: [${ENG}], mode: monitor }
  - { name: ctl, members: [${PLC}], mode: enforce }
conduits: [{ name: c, from: eng, to: ctl }]
groups: []
`;

test('a permit replaced by a narrower one narrows the connections already open', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-permit-replace-'));
  const port = await freeTcpPort(PLC);
  const registers = Array.from({ length: 20 }, () => 0);
  const plc = new ServerTCP(
    {
      getHoldingRegister: (a: number) => registers[a] ?? 0,
      setRegister: (a: number, v: number) => {
        registers[a] = v;
      },
      getCoil: () => false,
      setCoil: () => undefined,
    },
    { host: PLC, port, unitID: 1 },
  );
  await new Promise<void>((res) => plc.on('initialized', () => res()));
  plc.on('socketError', () => undefined);
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok);
  const events: Array<Record<string, unknown>> = [];
  const gw = new Gateway({
    policy: new CompiledPolicy(r.policy),
    targetsOf: () => [{ server: PLC, port, protocol: 'modbus', listenIp: LISTEN }],
    listenIp: LISTEN,
    deny: 'exception',
    budgetMicros: 5000,
    log: (e) => events.push(e),
    permits: new ScopeReader(dir),
  });
  const flow = { client: ENG, server: PLC, transport: 'tcp' as const, port };
  const group = (name: string, access: 'read-only' | 'read-write'): ContextGroup => ({
    name,
    clients: [ENG],
    servers: [PLC],
    transport: 'tcp',
    ports: [port],
    protocol: 'modbus',
    functions: access === 'read-write' ? [3, 6] : [3],
    access,
  });
  const grant = (template: string, access: 'read-only' | 'read-write'): void => {
    const now = Math.floor(Date.now() / 1000);
    addScope(
      dir,
      {
        flow,
        until: now + 600,
        // Both grants in the same second: the gateway must tell them apart by more than the time.
        grantedAt: now - (now % 10),
        group: group(`permit:${template}`, access),
        user: 'eve',
        directory: 'ldap',
        template,
      },
      now,
    );
  };
  const client = async (): Promise<any> => {
    const c = new ModbusRTU();
    await c.connectTCP(LISTEN, { port: gw.targets[0]!.listenPort, localAddress: ENG });
    c.setID(1);
    c.setTimeout(1500);
    return c;
  };
  try {
    await gw.start();
    grant('maint-write', 'read-write');
    const held = await client();
    await held.writeRegister(5, 111);
    assert.equal(registers[5], 111, 'the write permit lets the write through');

    // The write permit is withdrawn and a read-only one granted for the same flow.
    grant('read-only', 'read-only');
    assert.deepEqual((await held.readHoldingRegisters(5, 1)).data, [111], 'reads still pass');
    await assert.rejects(held.writeRegister(5, 222), 'the open connection lost the write');
    assert.equal(registers[5], 111, 'the write never reached the PLC');
    held.close(() => undefined);

    const fresh = await client();
    await assert.rejects(fresh.writeRegister(5, 333));
    assert.equal(registers[5], 111, 'nor on a new connection');
    fresh.close(() => undefined);

    const denied = events.filter((e) => e.event === 'denied');
    assert.equal(denied.length, 2);
    assert.ok(
      denied.every((e) => e.template === 'read-only' && e.reason === 'function_not_allowed'),
      JSON.stringify(denied),
    );
    assert.ok(
      events.some((e) => e.event === 'permit_changed' && e.template === 'read-only'),
      'the switch is logged',
    );
  } finally {
    await gw.stop();
    await new Promise<void>((res) => plc.close(() => res()));
    rmSync(dir, { recursive: true, force: true });
  }
});
