// OPC UA address lists name one thing per address (review 14, L5): a Call is judged by its (object, method)
// pair, since a method declared on a type is called on every instance with the instance as objectId; opaque
// (ByteString) NodeIds keep their bytes (base64, as OPC UA writes them); a string NodeId Weir cannot keep whole
// (longer than its text bound, or not UTF-8) is refused where a group lists addresses, and passes where none does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opcuaTcp } from '../../src/dissect/protocols/opcua.js';
import type { Message } from '../../src/dissect/message.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector } from '../../src/enforce/gateway/inspector.js';
import { pduContext } from '../helpers/pdu-context.js';

const OPAQUE_A = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const OPAQUE_B = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');

const loaded = parsePolicy(
  `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.10, 10.0.0.11], mode: monitor }
  - { name: ctl, members: [10.0.0.21], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: ops, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: opcua, access: read-write,
      addresses: { "ns=2;s=ValveA|ns=2;s=Open": [0], "ns=3;b=${OPAQUE_A.toString('base64')}": [13] } }
  - { name: eng, conduit: c, clients: [10.0.0.11], servers: [10.0.0.21], protocol: opcua, access: read-write }
`,
  'p.yaml',
);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const cp = new CompiledPolicy(loaded.policy);

const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const stringId = (ns: number, s: Uint8Array | string) => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return [0x03, ns & 0xff, ns >> 8, ...u32(b.length), ...b];
};
const opaqueId = (ns: number, b: Uint8Array) => [0x05, ns & 0xff, ns >> 8, ...u32(b.length), ...b];
const HEADER = [0x00, 0x00, ...new Array(8).fill(0), ...u32(1), ...u32(0), ...u32(-1), ...u32(0)];

/** A MSG chunk (policy None, channel 1) holding one service body. */
function msg(body: number[]): Uint8Array {
  return Uint8Array.from([
    0x4d,
    0x53,
    0x47,
    0x46,
    ...u32(24 + body.length),
    ...u32(1),
    ...u32(1),
    ...u32(1),
    ...u32(1),
    ...body,
  ]);
}
/** WriteRequest of the Value attribute of each node (DataValue without a value). */
function write(...nodes: number[][]): Uint8Array {
  const b = [0x01, 0x00, 0xa1, 0x02, ...HEADER, 0x00, 0x00, 0x00, ...u32(nodes.length)];
  for (const n of nodes) b.push(...n, ...u32(13), ...u32(-1), 0x00);
  return msg(b);
}
/** CallRequest of (object, method) pairs without input arguments. */
function call(...pairs: Array<[number[], number[]]>): Uint8Array {
  const b = [0x01, 0x00, 0xc8, 0x02, ...HEADER, 0x00, 0x00, 0x00, ...u32(pairs.length)];
  for (const [o, m] of pairs) b.push(...o, ...m, ...u32(0));
  return msg(b);
}

function dissect(pdu: Uint8Array): Message {
  const out: Message[] = [];
  opcuaTcp.dissect(
    pdu,
    0,
    pdu.length,
    pduContext({ dstPort: 4840 }),
    true,
    out,
    opcuaTcp.newState(),
  );
  return out[0]!;
}
function judge(client: string, pdu: Uint8Array): string[] {
  const ctx = pduContext({ srcIp: client, dstIp: '10.0.0.21', srcPort: 5000, dstPort: 4840 });
  const ins = new StreamInspector(opcuaTcp, cp.rules(client, '10.0.0.21', 'tcp', 4840), ctx, {
    deny: 'drop',
    budgetMicros: 1e6,
  });
  const acts = ins.push(pdu).map((a) => (a.kind === 'close' ? `close:${a.reason}` : a.kind));
  return acts;
}

const OPEN = stringId(2, 'Open');
const VALVE_A = stringId(2, 'ValveA');
const VALVE_B = stringId(2, 'ValveB');

test('OPC UA Call: the address is the (object, method) pair, so Open on valve A does not open valve B', () => {
  const m = dissect(call([VALVE_A, OPEN]));
  assert.deepEqual(m.targets, [{ space: 'ns=2;s=ValveA|ns=2;s=Open', start: 0, count: 1 }]);
  assert.equal(m.fields!.object_id, 'ns=2;s=ValveA');
  assert.equal(m.fields!.method_id, 'ns=2;s=Open');
  assert.deepEqual(judge('10.0.0.10', call([VALVE_A, OPEN])), ['forward']);
  assert.deepEqual(judge('10.0.0.10', call([VALVE_B, OPEN])), ['close:address_not_allowed']);
  assert.deepEqual(judge('10.0.0.10', call([VALVE_A, OPEN], [VALVE_B, OPEN])), [
    'close:address_not_allowed',
  ]);
  // An object whose id holds the separator could read as another pair: not held to a list.
  const tricky = dissect(call([stringId(2, 'ValveA|ns=2;s=Open'), stringId(2, 'X')]));
  assert.deepEqual(tricky.targets, [{ space: 'unwalked', start: 0, count: 1 }]);
  assert.deepEqual(judge('10.0.0.11', call([VALVE_B, OPEN])), ['forward'], 'no list: passes');
});

test('OPC UA opaque NodeIds keep their bytes: one listed id does not admit every id of its length', () => {
  const a = dissect(write(opaqueId(3, OPAQUE_A)));
  assert.deepEqual(a.targets, [
    { space: `ns=3;b=${OPAQUE_A.toString('base64')}`, start: 13, count: 1 },
  ]);
  assert.equal(a.targets![0]!.space, 'ns=3;b=ABEiM0RVZneImaq7zN3u/w==');
  assert.deepEqual(judge('10.0.0.10', write(opaqueId(3, OPAQUE_A))), ['forward']);
  assert.deepEqual(judge('10.0.0.10', write(opaqueId(3, OPAQUE_B))), ['close:address_not_allowed']);
});

test('OPC UA string NodeIds past the text bound or not UTF-8 are refused where a group lists addresses', () => {
  const long = 'A'.repeat(600);
  const longer = long + 'B';
  const bad = Uint8Array.from([0x56, 0x61, 0x6c, 0x76, 0x65, 0xff]); // 'Valve' + an invalid byte
  for (const id of [stringId(2, long), stringId(2, longer), stringId(2, bad)]) {
    const m = dissect(write(id));
    assert.equal(m.anomaly, null);
    assert.deepEqual(m.targets, [{ space: 'unwalked', start: 0, count: 1 }]);
    assert.deepEqual(judge('10.0.0.10', write(id)), ['close:address_not_allowed']);
    assert.deepEqual(judge('10.0.0.11', write(id)), ['forward'], 'no list: passes');
  }
  // A valid id up to the bound, multibyte UTF-8 included, is one address as before.
  const m = dissect(write(stringId(2, 'Ventil-Ö'.padEnd(500, 'x'))));
  assert.equal(m.targets![0]!.space, `ns=2;s=${'Ventil-Ö'.padEnd(500, 'x')}`);
});
