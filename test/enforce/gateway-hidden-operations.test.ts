// Operations hidden where the gateway does not look (review 11, F1 F2 F4 F11): a write or CIP Stop inside a
// Multiple Service Packet the dissector walks only in part or behind a path segment it cannot read, a Logix Read
// Modify Write Tag taken for Forward_Close, S7comm-plus beside an S7comm group's function and address lists, an
// IEC 104 counter interrogation that resets the totals. Each must be refused; what real clients send still passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enipTcp } from '../../src/dissect/protocols/enip.js';
import { s7comm } from '../../src/dissect/protocols/s7comm.js';
import { iec104 } from '../../src/dissect/protocols/iec104.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector, type Action } from '../../src/enforce/gateway/inspector.js';
import {
  cipRequest,
  cotpData,
  registerSession,
  s7WriteVar,
  sendRRData,
} from '../helpers/ics-frames.js';
import { connectRequest, cotpConnect, mmsExchanges } from '../fixtures-gen/mms-session.js';

const HMI = '10.0.0.40';
const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [${HMI}], mode: monitor }
  - { name: ctl, members: [10.0.0.20/28], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: ro, conduit: c, clients: [${HMI}], servers: [10.0.0.24], protocol: enip, access: read-only }
  - { name: cip-fn, conduit: c, clients: [${HMI}], servers: [10.0.0.26], protocol: cip,
      functions: [get_attribute_single, multiple_service_packet, unconnected_send] }
  - { name: cip-addr, conduit: c, clients: [${HMI}], servers: [10.0.0.27], protocol: cip, access: read-write,
      functions: [get_attribute_single, set_attribute_single, unconnected_send],
      addresses: { "class_0x4/attr_3": [100-101] } }
  - { name: hmi-tags, conduit: c, clients: [${HMI}], servers: [10.0.0.28], protocol: cip, access: read-write,
      functions: [read_tag, forward_open, forward_close] }
  - { name: s7-limited, conduit: c, clients: [${HMI}], servers: [10.0.0.22], protocol: s7comm, access: read-write,
      functions: [read_var, write_var, setup_communication], addresses: { DB1: [0-9] } }
  - { name: s7-port, conduit: c, clients: [${HMI}], servers: [10.0.0.23], protocol: s7comm }
  - { name: scada-ro, conduit: c, clients: [${HMI}], servers: [10.0.0.25], protocol: iec104 }
  - { name: scada-counters, conduit: c, clients: [${HMI}], servers: [10.0.0.29], protocol: iec104,
      access: read-write, functions: [c_ic_na_1, c_ci_na_1_read, c_ci_na_1_freeze] }
  - { name: scada-files, conduit: c, clients: [${HMI}], servers: [10.0.0.30], protocol: iec104,
      access: read-write, addresses: { ioa: [0-10] } }
`;
const loaded = parsePolicy(POLICY, 'p.yaml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const cp = new CompiledPolicy(loaded.policy);
const PORT: Record<string, number> = { enip: 44818, s7comm: 102, iec104: 2404 };

function inspector(d: StreamDissector, server: string): StreamInspector {
  const port = PORT[d.protocol]!;
  return new StreamInspector(
    d,
    cp.rules(HMI, server, 'tcp', port),
    {
      frame: 0,
      ts: 0,
      transport: 'tcp',
      srcMac: '',
      dstMac: '',
      srcIp: HMI,
      dstIp: server,
      srcPort: 40000,
      dstPort: port,
    },
    { deny: 'drop', budgetMicros: 1e6 },
  );
}
/** Each action in short: forward, or drop:/close:<reason>. */
const kinds = (as: Action[]): string[] =>
  as.map((a) => (a.kind === 'forward' ? 'forward' : `${a.kind}:${a.reason}`));

/** The actions on one CIP request sent in a SendRRData after RegisterSession (which must pass). */
function cip(server: string, request: number[]): string[] {
  const ins = inspector(enipTcp, server);
  assert.deepEqual(kinds(ins.push(registerSession())), ['forward']);
  return kinds(ins.push(sendRRData(1, request)));
}

const le16 = (v: number): number[] => [v & 255, v >> 8];
/** A Multiple Service Packet to the Message Router; `offsets` override the packed ones. */
function msp(services: number[][], offsets?: number[]): number[] {
  const table = 2 + 2 * services.length;
  const offs: number[] = offsets ?? [];
  if (offsets === undefined) {
    let o = table;
    for (const s of services) {
      offs.push(o);
      o += s.length;
    }
  }
  const body = new Array<number>(table + services.reduce((n, s) => n + s.length, 0)).fill(0);
  [...le16(services.length), ...offs.flatMap(le16)].forEach((v, i) => (body[i] = v));
  services.forEach((s, i) => s.forEach((v, j) => (body[offs[i]! + j] = v)));
  return cipRequest(0x0a, 0x02, 1, null, body);
}
/** Unconnected Send to the Connection Manager carrying `inner`, routed to backplane slot 0. */
function ucs(inner: number[], prefix: number[] = []): number[] {
  const data = [0x0a, 0xf0, ...le16(inner.length), ...inner, ...(inner.length % 2 ? [0] : [])];
  return [0x52, (prefix.length + 4) / 2, ...prefix, 0x20, 0x06, 0x24, 0x01, ...data, 1, 0, 1, 0];
}
const get = cipRequest(0x0e, 0x01, 1, 7);
const set = cipRequest(0x10, 0x01, 1, 7, [1]);
const stop = cipRequest(0x07, 0x01, 1, null);
/** Electronic key segment, key format 4, all zero: "any device" (CIP Vol 1, C-1.4.2). */
const KEY = [0x34, 0x04, 0, 0, 0, 0, 0, 0, 0, 0];
const assemblySet = (inst: number, prefix: number[] = []): number[] => {
  const path = [...prefix, 0x20, 0x04, 0x24, inst, 0x30, 0x03];
  return [0x10, path.length / 2, ...path, 1, 2];
};
const refused = (ks: string[]): boolean => ks.length > 0 && ks.every((k) => k !== 'forward');

test('CIP: every service of a Multiple Service Packet is judged, however many, in whatever order, however deep', () => {
  const RO = '10.0.0.24',
    FN = '10.0.0.26';
  assert.deepEqual(cip(RO, msp([get, get])), ['forward'], 'reads in an MSP pass read-only');
  assert.deepEqual(cip(RO, msp([get, set])), ['drop:write_not_allowed']);
  // 200 reads and then the write (the walk stopped at 200), and the CIP Stop likewise.
  assert.deepEqual(cip(RO, msp([...Array<number[]>(200).fill(get), set])), [
    'drop:write_not_allowed',
  ]);
  assert.deepEqual(cip(RO, msp([...Array<number[]>(200).fill(get), stop])), [
    'drop:write_not_allowed',
  ]);
  assert.deepEqual(cip(RO, msp(Array<number[]>(300).fill(get))), ['forward'], '300 reads pass');
  // Offsets out of order: the device runs the Set at its own offset; Weir read it as the Get's data.
  const table = 2 + 2 * 2;
  assert.ok(refused(cip(RO, msp([set, get], [table + get.length, table]))), 'reversed offsets');
  assert.ok(refused(cip(FN, msp([set, get], [table + get.length, table]))), 'reversed, cip group');
  assert.ok(refused(cip(RO, msp([set, set], [table, table]))), 'one service at two offsets');
  // A count that overruns the body, an offset into the offset table.
  assert.ok(refused(cip(RO, cipRequest(0x0a, 0x02, 1, null, [9, 0, 6, 0]))), 'count overruns');
  assert.ok(refused(cip(RO, msp([get, set], [2, table]))), 'offset inside the table');
  // Nesting: UCS → MSP → UCS → Set and MSP → MSP → MSP → Set are walked to the Set.
  assert.deepEqual(cip(RO, ucs(msp([ucs(set)]))), ['drop:write_not_allowed']);
  assert.deepEqual(cip(RO, msp([msp([msp([set])])])), ['drop:write_not_allowed']);
  assert.ok(refused(cip(FN, ucs(msp([ucs(set)])))), 'nested Set, cip group');
  assert.ok(refused(cip(FN, msp([msp([msp([set])])]))), 'nested Set, cip group');
  assert.deepEqual(cip(FN, ucs(msp([ucs(get)]))), ['forward'], 'nested reads pass');
  // Deeper than the dissector unwraps: not read, so refused even if only reads are inside.
  assert.ok(refused(cip(FN, msp([msp([msp([msp([get])])])]))), 'four wrappers deep');
});

test('CIP: a request path with a segment Weir cannot read is refused; an electronic key is read through', () => {
  const RO = '10.0.0.24',
    ADDR = '10.0.0.27';
  assert.deepEqual(cip(ADDR, assemblySet(100)), ['forward']);
  assert.deepEqual(cip(ADDR, assemblySet(150)), ['drop:address_not_allowed']);
  // The key segment before the class: the instance is read and held to the list, the Send is unwrapped.
  assert.deepEqual(cip(ADDR, assemblySet(100, KEY)), ['forward']);
  assert.deepEqual(cip(ADDR, assemblySet(150, KEY)), ['drop:address_not_allowed']);
  assert.deepEqual(cip(ADDR, ucs(assemblySet(150))), ['drop:address_not_allowed']);
  assert.deepEqual(cip(ADDR, ucs(assemblySet(150), KEY)), ['drop:address_not_allowed']);
  assert.deepEqual(cip(RO, ucs(assemblySet(150), KEY)), ['drop:write_not_allowed']);
  // A segment of another type (service id 0x38, extended logical 0x3c, a reserved format) or one that overruns
  // the path: what follows would be addressed unread.
  for (const [name, prefix] of [
    ['service id segment', [0x38, 0x01]],
    ['extended logical segment', [0x3c, 0x01]],
    ['key format 5', [0x34, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]],
    ['reserved logical format', [0x23, 0x01, 0, 0]],
    ['simple data segment', [0x80, 0x00]],
  ] as const) {
    assert.deepEqual(cip(ADDR, assemblySet(150, [...prefix])), ['close:malformed_pdu'], name);
    assert.deepEqual(cip(RO, ucs(assemblySet(100), [...prefix])), ['close:malformed_pdu'], name);
  }
  const overrun = [0x10, 2, 0x20, 0x04, 0x25, 0x00, 1, 2];
  assert.deepEqual(
    cip(ADDR, overrun),
    ['close:malformed_pdu'],
    'a 16-bit instance cut by the path',
  );
});

test('CIP: Read Modify Write Tag (0x4E on a tag) is a write, not Forward_Close', () => {
  const sym = (name: string): number[] => {
    const b = [...Buffer.from(name)];
    return [0x91, b.length, ...b, ...(b.length % 2 ? [0] : [])];
  };
  const req = (svc: number, path: number[], data: number[] = []): number[] => [
    svc,
    path.length / 2,
    ...path,
    ...data,
  ];
  const rmw = req(0x4e, sym('Pump1_Run'), [1, 0, 0x01, 0xff]);
  const read = req(0x4c, sym('Pump1_Run'), [1, 0]);
  const forwardClose = cipRequest(0x4e, 0x06, 1, null, [0x0a, 0xf0, 1, 0, 2, 0, 3, 0, 4, 0, 0]);
  assert.deepEqual(cip('10.0.0.24', read), ['forward']);
  assert.deepEqual(cip('10.0.0.24', rmw), ['drop:write_not_allowed'], 'read-only enip');
  assert.deepEqual(cip('10.0.0.28', read), ['forward']);
  assert.deepEqual(cip('10.0.0.28', forwardClose), ['forward'], 'Forward_Close passes');
  assert.deepEqual(cip('10.0.0.28', rmw), ['drop:function_not_allowed'], 'not forward_close');
  assert.deepEqual(cip('10.0.0.24', forwardClose), ['forward'], 'Forward_Close is session');
  // Forward_Open's code on another object is no Forward_Open.
  const notOpen = cipRequest(0x54, 0x6b, 1, null, [0, 0]);
  assert.ok(refused(cip('10.0.0.24', notOpen)), '0x54 on the symbol object, read-only');
});

/** S7comm-plus v1 request (opcode 0x31) with the given function code. */
const plus = (fn: number): number[] => [
  0x72,
  0x01,
  0x00,
  0x10,
  0x31,
  0x00,
  0x00,
  fn >> 8,
  fn & 255,
  0x00,
  0x05,
  ...Array<number>(9).fill(0),
  0x72,
  0x01,
  0,
  0,
];

test('S7comm-plus and MMS beside an S7comm group: its function and address lists are not waved through', () => {
  const s7 = (server: string, pdu: Uint8Array): string[] =>
    kinds(inspector(s7comm, server).push(pdu));
  assert.deepEqual(s7('10.0.0.22', cotpData(s7WriteVar(1, 1, 0, [1, 2]))), ['forward']);
  assert.deepEqual(s7('10.0.0.22', cotpData(s7WriteVar(1, 5, 0, [1, 2]))), [
    'drop:address_not_allowed',
  ]);
  for (const fn of [0x04f2, 0x0542, 0x056b, 0x0556, 0x054c, 0x04ca])
    assert.deepEqual(
      s7('10.0.0.22', cotpData(plus(fn))),
      ['drop:protocol_not_allowed'],
      `S7comm-plus 0x${fn.toString(16)} on the limited group`,
    );
  // MMS on the same port is another protocol altogether.
  const client = mmsExchanges()
    .filter(([toServer]) => toServer)
    .map(([, b]) => b);
  const acts = inspector(s7comm, '10.0.0.22').push(
    Buffer.concat([cotpConnect(0xe0), connectRequest(), ...client]),
  );
  assert.deepEqual(kinds(acts).slice(0, 2), ['forward', 'drop:protocol_not_allowed']);
  assert.ok(
    acts.slice(1).every((a) => a.kind !== 'forward'),
    'no MMS unit passes',
  );
  // An S7comm group without lists stands for the port: S7comm-plus reads pass, its writes stay refused.
  assert.deepEqual(s7('10.0.0.23', cotpData(plus(0x054c))), ['forward']);
  assert.deepEqual(s7('10.0.0.23', cotpData(plus(0x04f2))), ['drop:write_not_allowed']);
});

test('S7 userdata CPU functions: ALARM_8 lock and unlock change the CPU, the rest are no client request', () => {
  const userdata = (group: number, sub: number): Uint8Array =>
    cotpData([
      0x32,
      0x07,
      0,
      0,
      0,
      1,
      0,
      8,
      0,
      4,
      0,
      1,
      0x12,
      4,
      0x11,
      0x40 | group,
      sub,
      0,
      0x0a,
      0,
      0,
      0,
    ]);
  const s7 = (pdu: Uint8Array): string[] => kinds(inspector(s7comm, '10.0.0.23').push(pdu));
  assert.deepEqual(s7(userdata(4, 1)), ['forward'], 'read SZL');
  assert.deepEqual(s7(userdata(4, 0x13)), ['forward'], 'alarm query');
  assert.deepEqual(s7(userdata(4, 7)), ['drop:write_not_allowed'], 'ALARM_8 lock');
  assert.deepEqual(s7(userdata(4, 8)), ['drop:write_not_allowed'], 'ALARM_8 unlock');
  assert.deepEqual(s7(userdata(4, 0x0e)), ['close:unknown_function'], 'an indication');
});

test('IEC 104 counter interrogation: a freeze or a reset of the integrated totals is not a read', () => {
  const apdu = (asdu: number[]): Uint8Array =>
    Uint8Array.from([0x68, 4 + asdu.length, 0, 0, 0, 0, ...asdu]);
  const counters = (frz: number, more: number[] = []): Uint8Array =>
    apdu([101, 1 + more.length / 4, 6, 0, 1, 0, 0, 0, 0, 0x05 | (frz << 6), ...more]);
  const startdt = Uint8Array.from([0x68, 4, 0x07, 0, 0, 0]);
  const judge = (server: string, pdu: Uint8Array): string[] => {
    const ins = inspector(iec104, server);
    assert.deepEqual(kinds(ins.push(startdt)), ['forward']);
    return kinds(ins.push(pdu));
  };
  assert.deepEqual(judge('10.0.0.25', counters(0)), ['forward'], 'FRZ 0 reads');
  assert.deepEqual(judge('10.0.0.25', counters(1)), ['close:write_not_allowed'], 'freeze');
  assert.deepEqual(judge('10.0.0.25', counters(2)), ['close:write_not_allowed'], 'freeze+reset');
  assert.deepEqual(judge('10.0.0.25', counters(3)), ['close:write_not_allowed'], 'reset');
  // A second object does not hide a reset behind a read.
  assert.deepEqual(judge('10.0.0.25', counters(0, [0, 0, 0, 0x05 | (3 << 6)])), [
    'close:write_not_allowed',
  ]);
  // A read-write group lists which counter interrogations it allows.
  assert.deepEqual(judge('10.0.0.29', counters(0)), ['forward']);
  assert.deepEqual(judge('10.0.0.29', counters(1)), ['forward']);
  assert.deepEqual(judge('10.0.0.29', counters(2)), ['close:function_not_allowed']);
  assert.deepEqual(judge('10.0.0.29', counters(3)), ['close:function_not_allowed']);
});

test('IEC 104 objects of a size Weir does not know: only one can be held to an address list', () => {
  const apdu = (asdu: number[]): Uint8Array =>
    Uint8Array.from([0x68, 4 + asdu.length, 0, 0, 0, 0, ...asdu]);
  // F_SC_NA_1 (122, call file): name of file, name of section, qualifier per object.
  const call = (ioas: number[]): Uint8Array =>
    apdu([122, ioas.length, 6, 0, 1, 0, ...ioas.flatMap((a) => [a, 0, 0, 1, 0, 0, 1])]);
  const judge = (pdu: Uint8Array): string[] => {
    const ins = inspector(iec104, '10.0.0.30');
    ins.push(Uint8Array.from([0x68, 4, 0x07, 0, 0, 0]));
    return kinds(ins.push(pdu));
  };
  assert.deepEqual(judge(call([5])), ['forward']);
  assert.deepEqual(judge(call([500])), ['close:address_not_allowed']);
  assert.deepEqual(judge(call([5, 500])), ['close:address_not_allowed'], 'the second object');
});

test('policy: a read-only group cannot list a counter reset', () => {
  const bad = parsePolicy(
    `weir: policy/1
zones: [{ name: z, members: [10.0.0.25], mode: enforce }]
groups:
  - { name: g, clients: [${HMI}], servers: [10.0.0.25], protocol: iec104, functions: [c_ci_na_1_reset] }
`,
    'p.yaml',
  );
  assert.ok(!bad.ok && JSON.stringify(bad.errors).includes('read-only'), JSON.stringify(bad));
});
