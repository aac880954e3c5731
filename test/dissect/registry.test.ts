// Protocol knowledge lives in one place: each protocol's descriptor (src/dissect/protocols/<p>.ts), registered in
// src/dissect/registry.ts. These tests keep the descriptors complete and every other file free of port tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  PROTOCOLS,
  classifies,
  functionCode,
  functionLabel,
  gatewayDissector,
  gatewayProtocols,
  industrialServices,
  isIndustrial,
  operationOf,
  PROTOCOL_INDEX,
  requestedMode,
  serverPorts,
  streamBindings,
  datagramBindings,
  linkBindings,
  functionKeyNumber,
  protocolDescriptor,
} from '../../src/dissect/registry.js';
import { newMessage, type KnownProtocol, type Message } from '../../src/dissect/message.js';
import { serviceName } from '../../src/discover/services.js';
import { repoRoot } from '../helpers/paths.js';
import { pduContext } from '../helpers/pdu-context.js';

const CTX = pduContext({ ts: 0 });

const CATEGORIES = new Set([
  'read',
  'identity',
  'session',
  'diagnostic',
  'write',
  'control',
  'program',
  'config',
  'unknown',
]);

test('every registered protocol has a complete descriptor', () => {
  const names = new Set<string>();
  for (const p of PROTOCOLS) {
    assert.ok(!names.has(p.name), `${p.name} registered twice`);
    names.add(p.name);
    assert.ok(p.title.length > 0, `${p.name}: title`);
    for (const d of [p.stream, p.datagram, p.link])
      if (d) assert.equal(d.protocol, p.name, `${p.name}: its dissector reports ${d.protocol}`);
    const dissected = p.stream !== undefined || p.datagram !== undefined || p.link !== undefined;
    if (p.carrier !== undefined) {
      const c = protocolDescriptor(p.carrier);
      assert.ok(c?.stream ?? c?.datagram, `${p.name}: carrier ${p.carrier} has no dissector`);
      assert.ok(!dissected, `${p.name}: a carried layer has no dissector of its own`);
      assert.deepEqual(p.ports, { tcp: [], udp: [] }, `${p.name}: ports are the carrier's`);
    }
    if (p.stream)
      assert.ok(p.ports.tcp.length > 0, `${p.name}: stream dissector without TCP ports`);
    if (p.datagram)
      assert.ok(p.ports.udp.length > 0, `${p.name}: datagram dissector without UDP ports`);
    if (p.link) assert.ok(p.etherTypes.length > 0, `${p.name}: link dissector without EtherTypes`);
    if (!p.stream)
      assert.equal(p.ports.tcp.length, 0, `${p.name}: TCP ports but no stream dissector`);
    if (!p.datagram)
      assert.equal(p.ports.udp.length, 0, `${p.name}: UDP ports but no datagram dissector`);
    // Industrial protocols over IP have a server port; those straight over Ethernet (GOOSE) have none.
    if (p.industrial && (p.stream || p.datagram || p.carrier))
      assert.ok(p.serverPort !== null, `${p.name}: industrial without a server port`);
    if (dissected || p.carrier !== undefined) {
      assert.ok(p.anomalies.length > 0, `${p.name}: no anomaly kinds`);
      assert.equal(
        new Set(p.anomalies).size,
        p.anomalies.length,
        `${p.name}: duplicate anomaly kinds`,
      );
      for (const k of p.anomalies) assert.match(k, /^[a-z][a-z0-9_]*$/, `${p.name}: kind '${k}'`);
    }
    // Operations name functions the protocol knows, and a classified protocol classifies every named function.
    for (const [func, op] of Object.entries(p.operations)) {
      assert.ok(op.what.length > 0, `${p.name} ${func}: operation without words`);
      if (Object.keys(p.functions).length > 0)
        assert.ok(
          p.functions[Number(func)] !== undefined,
          `${p.name}: operation ${func} has no name`,
        );
    }
    if (p.category)
      for (const func of Object.keys(p.functions)) {
        const m = {
          ...newMessage(CTX, p.name as Message['protocol']),
          func: Number(func),
          role: 'request',
        };
        assert.ok(CATEGORIES.has(p.category(m as Message)), `${p.name} ${func}: category`);
      }
    if (p.industrial && p.industrial === isIndustrial(p.name))
      assert.ok(PROTOCOL_INDEX[p.name]! > 0);
  }
});

/** Every protocol name the type system knows (the compiler refuses this record when one is missing). */
const KNOWN: Record<KnownProtocol, true> = {
  modbus: true,
  s7comm: true,
  s7comm_plus: true,
  dnp3: true,
  enip: true,
  cip: true,
  bacnet: true,
  iec104: true,
  arp: true,
  dhcp: true,
  lldp: true,
  cdp: true,
  profinet_dcp: true,
  dns: true,
  nbns: true,
  opcua: true,
  hartip: true,
  fins: true,
  slmp: true,
  mms: true,
  goose: true,
  profinet_io: true,
  c37118: true,
  sv: true,
};

test('every protocol name has a registered descriptor, and nothing else is registered', () => {
  assert.deepEqual(PROTOCOLS.map((p) => p.name).sort(), Object.keys(KNOWN).sort());
});

test('one dissector per port and EtherType', () => {
  for (const [what, bindings] of [
    ['TCP port', streamBindings],
    ['UDP port', datagramBindings],
    ['EtherType', linkBindings],
  ] as const) {
    const seen = new Map<number, string>();
    for (const b of bindings) {
      const had = seen.get(b.key);
      assert.ok(had === undefined, `${what} ${b.key}: ${had} and ${b.dissector.protocol}`);
      seen.set(b.key, b.dissector.protocol);
    }
  }
});

test('what other layers read is derived from the descriptors', () => {
  assert.deepEqual(serverPorts.modbus, { transport: 'tcp', ports: [502] });
  assert.deepEqual(serverPorts.cip, { transport: 'tcp', ports: [44818] });
  assert.deepEqual(serverPorts.bacnet, { transport: 'udp', ports: [47808] });
  assert.deepEqual(serverPorts.opcua, { transport: 'tcp', ports: [4840] });
  assert.equal(serverPorts.dns, undefined, 'identity protocols are not policy protocols');
  assert.equal(serviceName('tcp', 2222), 'enip-io');
  assert.equal(serviceName('udp', 47809), 'bacnet');
  assert.equal(serviceName('tcp', 4840), 'opcua');
  assert.equal(industrialServices('tcp').get(20000), 'dnp3');
  assert.deepEqual(gatewayProtocols, [
    'modbus',
    's7comm',
    'dnp3',
    'enip',
    'cip',
    'iec104',
    'opcua',
    'fins',
    'slmp',
    'mms',
  ]);
  assert.equal(gatewayDissector('cip')?.protocol, 'enip');
  // MMS rides S7comm's COTP framing on port 102; the UMAS functions are policy keys of Modbus.
  assert.equal(gatewayDissector('mms')?.protocol, 's7comm');
  assert.equal(functionCode('modbus', 'umas_stop_plc'), (90 << 8) | 0x41);
  assert.equal(functionLabel('modbus', (90 << 8) | 0x02), 'umas_read_id');
  assert.equal(functionCode('modbus', 'Read Holding Registers'), 3);
  assert.equal(functionLabel('s7comm', 0x29), 'plc_stop');
  assert.equal(functionCode('bacnet', 'who_is'), 256 + 8);
  assert.ok(classifies('cip') && classifies('s7comm_plus') && !classifies('bacnet'));
  const stop = { ...newMessage(CTX, 'dnp3'), func: 18, role: 'request' } as Message;
  assert.equal(requestedMode(stop), 'STOP');
  assert.equal(operationOf(stop, functionKeyNumber('dnp3', 18))?.kind, 'cpu_stop');
  // S7 function codes of userdata PDUs reuse the numbers: only jobs carry the operations.
  const userdata = {
    ...newMessage(CTX, 's7comm'),
    func: 0x29,
    role: 'request',
    fields: { rosctr: 'USERDATA' },
  } as Message;
  assert.equal(operationOf(userdata, functionKeyNumber('s7comm', 0x29)), undefined);
});

/** Well-known ports of the protocols Weir dissects: only their descriptors may spell them. */
const PORT_LITERAL = /\b(102|502|2222|2404|4840|5006|5007|5094|9600|20000|44818|47808|47809)\b/;

test('no file outside src/dissect/protocols hard-codes a protocol port', () => {
  const src = path.join(repoRoot, 'src');
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir)) {
      const p = path.join(dir, n);
      if (statSync(p).isDirectory()) {
        if (p !== path.join(src, 'dissect', 'protocols')) walk(p);
      } else if (n.endsWith('.ts')) {
        // Comments may name ports as examples; code may not.
        const code = readFileSync(p, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
          .replace(/\/\/.*$/gm, '');
        code.split('\n').forEach((line, i) => {
          if (PORT_LITERAL.test(line))
            offenders.push(`${path.relative(repoRoot, p)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  walk(src);
  assert.deepEqual(
    offenders,
    [],
    'declare ports in the protocol descriptor and read them from the registry',
  );
});
