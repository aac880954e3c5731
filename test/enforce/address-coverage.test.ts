// A request whose addresses the gateway judged only in part is a request whose other addresses were never held to
// the policy. These are the attacks: points that are not a run, more items or headers than a dissector keeps, an
// item syntax it cannot size. Each must be refused where a group limits addresses, and still pass where none does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import { s7comm } from '../../src/dissect/protocols/s7comm.js';
import { dnp3Tcp } from '../../src/dissect/protocols/dnp3.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector, type Action } from '../../src/enforce/gateway/inspector.js';
import { cotpData, dnp3Request, modbusRequest, s7Job, u16 } from '../helpers/ics-frames.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.10, 10.0.0.40], mode: monitor }
  - { name: ctl, members: [10.0.0.21, 10.0.0.22, 10.0.0.23], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: files, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: modbus,
      addresses: { file_1: [0-99] }, access: read-write }
  - { name: db1, conduit: c, clients: [10.0.0.10], servers: [10.0.0.22], protocol: s7comm,
      addresses: { DB1: [0-99] }, access: read-write }
  - { name: crob, conduit: c, clients: [10.0.0.10], servers: [10.0.0.23], protocol: dnp3,
      addresses: { g12v1: [5-6], g60v1: [0] }, access: read-write }
  - { name: any-modbus, conduit: c, clients: [10.0.0.40], servers: [10.0.0.21], protocol: modbus, access: read-write }
  - { name: any-s7, conduit: c, clients: [10.0.0.40], servers: [10.0.0.22], protocol: s7comm, access: read-write }
  - { name: any-dnp3, conduit: c, clients: [10.0.0.40], servers: [10.0.0.23], protocol: dnp3, access: read-write }
`;
const loaded = parsePolicy(POLICY, 'p.yaml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const cp = new CompiledPolicy(loaded.policy);
const PORTS: Record<string, [string, number]> = {
  modbus: ['10.0.0.21', 502],
  s7comm: ['10.0.0.22', 102],
  dnp3: ['10.0.0.23', 20000],
};

function judge(d: StreamDissector, client: string, bytes: Uint8Array): Action[] {
  const [server, port] = PORTS[d.protocol]!;
  const ins = new StreamInspector(
    d,
    cp.rules(client, server, 'tcp', port),
    {
      frame: 0,
      ts: 0,
      transport: 'tcp',
      srcMac: '',
      dstMac: '',
      srcIp: client,
      dstIp: server,
      srcPort: 40000,
      dstPort: port,
    },
    { deny: 'exception', budgetMicros: 1e6 },
  );
  return ins.push(bytes);
}
const passes = (as: Action[]): boolean => as.length > 0 && as.every((a) => a.kind === 'forward');

/** A CROB (g12v1, 1-byte count, 1-byte index prefix: qualifier 0x17) on the given points, latch on. */
function crobs(points: number[]): number[] {
  const one = [0x03, 1, 100, 0, 0, 0, 100, 0, 0, 0, 0];
  return [12, 1, 0x17, points.length, ...points.flatMap((p) => [p, ...one])];
}

test('DNP3: an indexed CROB on points 5 and 200 is two points, not the run 5..6', () => {
  assert.ok(passes(judge(dnp3Tcp, '10.0.0.10', dnp3Request(5, crobs([5, 6])))), 'points 5 and 6');
  assert.ok(!passes(judge(dnp3Tcp, '10.0.0.10', dnp3Request(5, crobs([5, 200])))), 'point 200');
  assert.ok(!passes(judge(dnp3Tcp, '10.0.0.10', dnp3Request(5, crobs([6, 5, 7])))), 'point 7');
  assert.ok(passes(judge(dnp3Tcp, '10.0.0.40', dnp3Request(5, crobs([5, 200])))), 'no limits');
});

test('DNP3: headers past the 32 walked, or after a free-format one, are not trusted', () => {
  const many = Array.from({ length: 33 }, () => crobs([5])).flat();
  const tooMany = dnp3Request(5, [...many, ...crobs([200])]);
  assert.ok(!passes(judge(dnp3Tcp, '10.0.0.10', tooMany)), '34 headers, the last on point 200');
  // Qualifier 0x5B (free format): the walk stops; the CROB behind it was never read.
  const freeFormat = dnp3Request(5, [
    ...crobs([5]),
    70,
    3,
    0x5b,
    1,
    4,
    0,
    1,
    2,
    3,
    4,
    ...crobs([200]),
  ]);
  assert.ok(!passes(judge(dnp3Tcp, '10.0.0.10', freeFormat)), 'after a free-format header');
  // A READ of listed points (qualifier 0x17, indices only) is judged point by point too.
  assert.ok(passes(judge(dnp3Tcp, '10.0.0.10', dnp3Request(1, [60, 1, 0x06]))), 'class 0 read');
});

test('S7: an item in a syntax the dissector does not size is never waved through behind a listed one', () => {
  const any = (db: number, start: number, n: number): number[] => {
    const bit = start * 8;
    return [
      0x12,
      0x0a,
      0x10,
      0x02,
      ...u16(n),
      ...u16(db),
      0x84,
      bit >> 16,
      (bit >> 8) & 255,
      bit & 255,
    ];
  };
  // DB-direct item syntax (0xb0): length 1 byte, DB number and offset in its own layout.
  const dbDirect = [0x12, 0x07, 0xb0, 0x01, 0x00, 0x00, 0x07, 0x00, 0x00];
  const write = (items: number[][], data: number[][]): Uint8Array =>
    cotpData(
      s7Job(
        1,
        [0x05, items.length, ...items.flat()],
        data.flatMap((d) => [0x00, 0x04, ...u16(d.length * 8), ...d]),
      ),
    );
  assert.ok(passes(judge(s7comm, '10.0.0.10', write([any(1, 0, 2)], [[1, 2]]))), 'DB1.0 listed');
  assert.ok(
    !passes(
      judge(
        s7comm,
        '10.0.0.10',
        write(
          [any(1, 0, 2), dbDirect],
          [
            [1, 2],
            [9, 9],
          ],
        ),
      ),
    ),
    'a DB-direct item beside it',
  );
  // Two items announced, one present: the second address was never read.
  const oneOfTwo = cotpData(s7Job(1, [0x05, 2, ...any(1, 0, 2)], [0x00, 0x04, ...u16(16), 1, 2]));
  assert.ok(!passes(judge(s7comm, '10.0.0.10', oneOfTwo)), 'an item announced and missing');
  assert.ok(
    passes(
      judge(
        s7comm,
        '10.0.0.40',
        write(
          [any(1, 0, 2), dbDirect],
          [
            [1, 2],
            [9, 9],
          ],
        ),
      ),
    ),
    'no limits',
  );
});

test('Modbus: every sub-request of a file-record read is judged, up to the last a PDU can hold', () => {
  const sub = (file: number, rec: number): number[] => [6, ...u16(file), ...u16(rec), ...u16(1)];
  const read = (subs: number[][]): Uint8Array => {
    const body = subs.flat();
    return modbusRequest(1, 20, [body.length, ...body]);
  };
  assert.ok(
    passes(judge(modbus, '10.0.0.10', read([sub(1, 0), sub(1, 1)]))),
    'file 1 records 0, 1',
  );
  const many = Array.from({ length: 34 }, () => sub(1, 0)); // 35 sub-requests fill a PDU
  assert.ok(!passes(judge(modbus, '10.0.0.10', read([...many, sub(9, 0)]))), 'file 9 behind 34');
  assert.ok(passes(judge(modbus, '10.0.0.40', read([...many, sub(9, 0)]))), 'no limits');
});
