// The compact edge state (issue 18: 100,000 assets / 1,000,000 edges within 1 GiB): what most edges carry once is
// held bare and protocol lists are shared. These check the records stay what the lists gave, and that sharing
// cannot be turned against the inventory: one edge never changes another's list, odd traffic cannot grow the
// shared table without bound, and the per-edge caps still hold across the bare-to-list step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EdgeBook,
  MAX_SHARED_PROTOCOL_LISTS,
  protocolList,
  sharedProtocolLists,
} from '../../src/discover/edge-book.js';
import { LIMITS } from '../../src/discover/merge.js';
import { newPacket, type Packet } from '../../src/dissect/packet.js';
import type { Message, Target } from '../../src/dissect/message.js';
import type { Edge } from '../../src/discover/model.js';
import { EdgeTable, type EdgeAddress } from '../../src/discover/edge-table.js';

function packet(src: number, dst: number, sp: number, dp: number, ts: number): Packet {
  const p = newPacket();
  const text = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  p.ipVersion = 4;
  p.srcIp4 = src;
  p.dstIp4 = dst;
  p.srcIp = text(src);
  p.dstIp = text(dst);
  p.ipProto = 6;
  p.srcPort = sp;
  p.dstPort = dp;
  p.ts = ts;
  p.wireLen = 66;
  return p;
}

function message(
  protocol: string,
  func: number,
  ts: number,
  targets: Target[] | null = null,
  write = false,
): Message {
  return {
    protocol,
    func,
    funcName: `f${func}`,
    role: 'request',
    write,
    exception: -1,
    anomaly: null,
    targets,
    ts,
    transport: 'tcp',
  } as unknown as Message;
}

const A = 0x0a000001,
  B = 0x0a000002,
  C = 0x0a000003;

/** One request on the edge A→server:port at ts. */
function send(book: EdgeBook, server: number, m: Message, port = 502): void {
  book.onPacket(packet(A, server, 40000, port, m.ts), true);
  book.onMessage(m);
}

function record(book: EdgeBook, server: string): Edge {
  const e = book.edgeList(false).find((x) => x.server === server);
  assert.ok(e, `edge to ${server}`);
  return e;
}

test('an edge that adds a protocol leaves the list other edges share as it was', () => {
  const book = new EdgeBook(100, {});
  send(book, B, message('modbus', 3, 1));
  send(book, C, message('modbus', 3, 1));
  send(book, C, message('enip', 1, 2));
  assert.deepEqual(record(book, '10.0.0.2').protocols, ['modbus']);
  assert.deepEqual(record(book, '10.0.0.3').protocols, ['modbus', 'enip']);
  // A record's list is its own copy: changing it changes no edge.
  record(book, '10.0.0.2').protocols.push('s7comm');
  assert.deepEqual(record(book, '10.0.0.2').protocols, ['modbus']);
  // The shared lists cannot be written at all.
  const shared = protocolList(null, 'modbus') as string[];
  assert.equal(shared, protocolList(null, 'modbus'));
  assert.throws(() => shared.push('dnp3'), TypeError);
});

test('protocol lists in ever new orders stop being shared at the bound, and stay right', () => {
  const names = Array.from({ length: 90 }, (_, i) => `p${i}`);
  let n = 0;
  for (let i = 0; i < names.length && n < MAX_SHARED_PROTOCOL_LISTS * 2; i++)
    for (let j = 0; j < names.length && n < MAX_SHARED_PROTOCOL_LISTS * 2; j++, n++) {
      const l = protocolList(protocolList(null, names[i]!), names[j]!);
      assert.deepEqual(l, [names[i], names[j]]);
    }
  assert.ok(sharedProtocolLists() <= MAX_SHARED_PROTOCOL_LISTS);
});

test('functions and address spaces: one held bare, then a list, in the records the lists gave', () => {
  const book = new EdgeBook(100, {});
  const hr = (start: number, count: number): Target => ({
    space: 'holding_register',
    start,
    count,
  });
  send(book, B, message('modbus', 16, 1, [hr(10, 2)], true));
  send(book, B, message('modbus', 3, 2, [hr(0, 10)]));
  send(book, B, message('modbus', 3, 3, [hr(0, 10)]));
  send(book, B, message('modbus', 1, 4, [{ space: 'coil', start: 5, count: 1 }]));
  send(book, B, message('modbus', 16, 5, [hr(12, 1)], true));
  const e = record(book, '10.0.0.2');
  assert.deepEqual(
    e.functions.map((f) => [f.func, f.count, f.writes]),
    [
      [1, 1, 0],
      [3, 2, 0],
      [16, 2, 2],
    ],
  );
  assert.deepEqual(e.targets, [
    { space: 'holding_register', access: 'read', ranges: [[0, 9]] },
    { space: 'holding_register', access: 'write', ranges: [[10, 12]] },
    { space: 'coil', access: 'read', ranges: [[5, 5]] },
  ]);
  assert.equal(e.requests, 5);
  // A delta restarts them; the next messages start bare again.
  book.resetDelta();
  send(book, B, message('modbus', 3, 6, [hr(0, 10)]));
  const d = record(book, '10.0.0.2');
  assert.deepEqual(
    d.functions.map((f) => [f.func, f.count]),
    [[3, 1]],
  );
  assert.deepEqual(d.targets, [{ space: 'holding_register', access: 'read', ranges: [[0, 9]] }]);
});

test('a flood of function codes and address spaces on one edge is capped across the bare-to-list step', () => {
  const capped: Record<string, number> = {};
  const book = new EdgeBook(100, capped);
  for (let f = 0; f < LIMITS.functions + 40; f++)
    send(book, B, message('modbus', f, f, [{ space: `s${f}`, start: 0, count: 1 }]));
  const e = record(book, '10.0.0.2');
  assert.equal(e.functions.length, LIMITS.functions);
  assert.equal(capped.edge_functions, 40);
  assert.equal(new Set(e.targets.map((t) => t.space)).size, LIMITS.spaces);
  assert.equal(capped.edge_address_spaces, LIMITS.functions + 40 - LIMITS.spaces);
});

test('an edge id is joined when asked and is the id the table names', () => {
  const book = new EdgeBook(100, {});
  send(book, B, message('modbus', 3, 1));
  const [s] = [...book.states()];
  assert.equal(s!.id, '10.0.0.1>10.0.0.2/tcp/502');
  assert.equal(record(book, '10.0.0.2').id, '10.0.0.1>10.0.0.2/tcp/502');
});

test('a server of many clients (addresses above 2^31 too): each client keeps its one edge, listed in the order seen', () => {
  const made: EdgeAddress[] = [];
  const table = new EdgeTable<EdgeAddress>((addr) => {
    made.push(addr);
    return addr;
  });
  const server = 0x0a000001;
  // 40 clients: past the few a server's flat list holds, so the list turns into a map midway.
  const clients = Array.from({ length: 40 }, (_, i) => (0xc0a80000 + i * 257) >>> 0);
  for (let round = 0; round < 3; round++)
    for (const c of clients) {
      // Each client on its own port so the direct-mapped cache does not answer for the table.
      const sp = 40000 + round;
      const there = table.find(packet(c, server, sp, 502, 0), true)!;
      const back = table.find(packet(server, c, 502, sp, 0), true)!;
      assert.equal(there, back);
    }
  assert.equal(made.length, clients.length);
  assert.deepEqual([...table.values()], made);
  assert.deepEqual(
    made.map((a) => a.client),
    clients.map((c) => [c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255].join('.')),
  );
});

test('malformed PDUs: counted with their kinds on the edge that carried them, none on the others, restarted by a delta', () => {
  const book = new EdgeBook(100, {});
  const bad = message('modbus', 3, 1);
  bad.anomaly = { kind: 'byte_count_mismatch', detail: 'x' } as Message['anomaly'];
  send(book, B, bad);
  send(book, B, bad);
  send(book, C, message('modbus', 3, 1));
  const e = record(book, '10.0.0.2');
  assert.equal(e.anomalies, 2);
  assert.deepEqual(e.anomalyKinds, ['modbus: byte_count_mismatch']);
  assert.equal(e.transport, 'tcp');
  assert.equal(record(book, '10.0.0.3').anomalies, 0);
  assert.deepEqual(record(book, '10.0.0.3').anomalyKinds, []);
  book.resetDelta();
  assert.equal(record(book, '10.0.0.2').anomalies, 0);
  assert.deepEqual(record(book, '10.0.0.2').anomalyKinds, []);
});
