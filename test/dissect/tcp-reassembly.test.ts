import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  feedSegment,
  newHalfStream,
  type TcpHalfStream,
} from '../../src/dissect/tcp-reassembly.js';
import { newMessage, type Message, type PduContext } from '../../src/dissect/message.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';

// A length-prefixed toy framing (1 byte magic 0xAB, 1 byte length, body) isolates the reassembler's logic;
// real protocols go through it in the differential test against tshark.
const toy: StreamDissector<{ held?: string }> = {
  protocol: 'modbus',
  newState: () => ({}),
  pduLength(b, off, avail) {
    if (b[off] !== 0xab) return -1;
    if (avail < 2) return 0;
    return 2 + b[off + 1]!;
  },
  dissect(b, off, len, ctx, toServer, out) {
    const m = newMessage(ctx, 'modbus');
    m.func = b[off + 2] ?? -1;
    m.values = Array.from(b.subarray(off + 2, off + len));
    m.role = toServer ? 'request' : 'response';
    out.push(m);
  },
};
const ctx: PduContext = {
  frame: 1,
  ts: 0,
  transport: 'tcp',
  srcMac: '',
  dstMac: '',
  srcIp: 'a',
  dstIp: 'b',
  srcPort: 1,
  dstPort: 502,
};
const pdu = (...body: number[]) => [0xab, body.length, ...body];

function feed(chunks: number[][], seqs?: number[]) {
  const s = newHalfStream(toy, true);
  const out: Message[] = [];
  const anomalies: string[] = [];
  let seq = 1000;
  chunks.forEach((c, i) => {
    const b = Uint8Array.from([9, 9, ...c]); // payload at offset 2, as in a frame buffer
    feedSegment(s, seqs ? seqs[i]! : seq, b, 2, c.length, ctx, out, (a) => anomalies.push(a));
    seq += c.length;
  });
  return { out, anomalies, s };
}

test('several PDUs in one segment are each dissected', () => {
  const { out } = feed([[...pdu(1, 2), ...pdu(3), ...pdu(4, 5, 6)]]);
  assert.deepEqual(
    out.map((m) => m.values),
    [[1, 2], [3], [4, 5, 6]],
  );
});

test('a PDU split across segments at every position is reassembled', () => {
  const bytes = [...pdu(7, 8, 9, 10), ...pdu(11)];
  for (let cut = 1; cut < bytes.length; cut++) {
    const { out, anomalies } = feed([bytes.slice(0, cut), bytes.slice(cut)]);
    assert.deepEqual(
      out.map((m) => m.values),
      [[7, 8, 9, 10], [11]],
      `cut at ${cut}`,
    );
    assert.deepEqual(anomalies, []);
  }
  const one = feed(bytes.map((x) => [x]));
  assert.equal(one.out.length, 2, 'byte-by-byte segments');
});

test('retransmitted segments are not dissected twice; overlaps keep only new bytes', () => {
  const a = pdu(1, 2),
    b = pdu(3, 4);
  const r = feed([a, a, b], [1000, 1000, 1004]);
  assert.equal(r.out.length, 2);
  assert.ok(r.anomalies.includes('tcp_retransmission'));
  const ov = feed(
    [
      [...a, 0xab],
      [0xab, 2, 3, 4],
    ],
    [1000, 1004],
  );
  assert.deepEqual(
    ov.out.map((m) => m.values),
    [
      [1, 2],
      [3, 4],
    ],
  );
});

test('a lost segment drops the partial PDU and resynchronises at the next PDU', () => {
  const r = feed([[0xab, 5, 1, 2], pdu(9)], [1000, 1100]);
  assert.deepEqual(
    r.out.map((m) => m.values),
    [[9]],
  );
  assert.ok(r.anomalies.includes('tcp_gap'));
});

test('bytes that are not the protocol are counted once and skipped, then parsing resumes', () => {
  const r = feed([[1, 2, 3], [4, 5], pdu(6)]);
  assert.deepEqual(
    r.out.map((m) => m.values),
    [[6]],
  );
  assert.deepEqual(r.anomalies, ['modbus_not_pdu']);
});

test('sequence numbers wrap around 2^32', () => {
  const a = pdu(1),
    b = pdu(2);
  const r = feed([a, b], [0xfffffffe, 1]);
  assert.equal(r.out.length, 2);
  assert.deepEqual(r.anomalies, []);
});

test('a dissector that throws is contained and counted', () => {
  const bad: StreamDissector = {
    ...toy,
    dissect() {
      throw new Error('boom');
    },
  };
  const s = newHalfStream(bad, true);
  const anomalies: string[] = [];
  feedSegment(s, 1, Uint8Array.from(pdu(1)), 0, 3, ctx, [], (a) => anomalies.push(a));
  assert.deepEqual(anomalies, ['modbus_dissector_error']);
});

test('a lost segment or skipped bytes forget the fragments the dissector was joining', () => {
  // A fragment held across a gap would be joined with whatever comes after it: a PDU nobody sent.
  const s = newHalfStream(toy, true) as TcpHalfStream & { state: { held?: string } };
  const out: Message[] = [];
  feedSegment(s, 1000, Uint8Array.from(pdu(1)), 0, 3, ctx, out, () => undefined);
  s.state.held = 'fragment';
  feedSegment(s, 1100, Uint8Array.from(pdu(2)), 0, 3, ctx, out, () => undefined);
  assert.deepEqual(s.state, {}, 'gap');
  s.state.held = 'fragment';
  feedSegment(s, 1103, Uint8Array.from([1, 2, 3]), 0, 3, ctx, out, () => undefined);
  assert.deepEqual(s.state, {}, 'bytes that are not the protocol');
  s.state.held = 'fragment';
  feedSegment(s, 1106, Uint8Array.from(pdu(3)), 0, 3, ctx, out, () => undefined);
  assert.deepEqual(s.state, { held: 'fragment' }, 'in-order PDUs keep it');
});
