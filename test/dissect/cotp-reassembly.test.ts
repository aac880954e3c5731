// COTP DT reassembly in the S7 dissector: what is a fragment, how a segmented job is joined, and what a peer
// that never ends a TSDU, or breaks one off, gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { s7comm, type S7StreamState } from '../../src/dissect/protocols/s7comm.js';
import type { Message, PduContext } from '../../src/dissect/message.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { TcpFlow } from '../fixtures-gen/pcap-writer.js';
import {
  dt,
  fragments,
  hmi,
  plc,
  plcStop,
  readVar,
  writeVar,
} from '../fixtures-gen/s7-fragments.js';

const ctx = (frame: number): PduContext => ({
  frame,
  ts: frame,
  transport: 'tcp',
  srcMac: '',
  dstMac: '',
  srcIp: '10.7.0.10',
  dstIp: '10.7.0.20',
  srcPort: 49200,
  dstPort: 102,
});

/** Dissect TPKTs in order with one per-direction state, as the pipeline and the gateway do. */
function feed(
  tpkts: Buffer[],
  state: S7StreamState = s7comm.newState(),
  toServer = true,
): Message[][] {
  return tpkts.map((t, i) => {
    const out: Message[] = [];
    assert.equal(s7comm.pduLength(t, 0, t.length), t.length);
    s7comm.dissect(t, 0, t.length, ctx(i + 1), toServer, out, state);
    return out;
  });
}

const CR = Buffer.from('0300001611e00000000100c0010ac1020100c2020102', 'hex');

test('partial: a DT TPDU without EOT is a fragment; with EOT, other TPDUs and junk are not', () => {
  const [first, middle, last] = fragments(plcStop(1), [7, 16]);
  const is = (b: Buffer) => s7comm.partial!(b, 0, b.length);
  assert.equal(is(first!), true);
  assert.equal(is(middle!), true);
  assert.equal(is(last!), false);
  assert.equal(is(dt(readVar(2))), false);
  assert.equal(
    is(dt(Buffer.alloc(0), false)),
    true,
    'an empty DT without EOT (S7-1200 HMIs send them) is a fragment',
  );
  assert.equal(is(CR), false);
  assert.equal(is(Buffer.from([3, 0, 0, 7, 2, 0xf0])), false, 'truncated COTP');
  // The flag is found after a TPKT inside a larger buffer too.
  const two = Buffer.concat([dt(readVar(3)), first!]);
  assert.equal(s7comm.partial!(two, two.length - first!.length, first!.length), true);
});

test('a job in three DT fragments is emitted whole by the last fragment, with its frame', () => {
  const state = s7comm.newState();
  const outs = feed(
    [...fragments(plcStop(7), [7, 16]), ...fragments(writeVar(8), [3, 11, 20, 25])],
    state,
  );
  assert.deepEqual(
    outs.map((o) => o.length),
    [0, 0, 1, 0, 0, 0, 0, 1],
  );
  const stop = outs[2]![0]!,
    write = outs[7]![0]!;
  assert.equal(stop.func, 0x29);
  assert.equal(stop.frame, 3);
  assert.equal(stop.anomaly, null);
  assert.equal(stop.txId, 7);
  assert.equal(stop.fields?.cotp_fragments, 3);
  assert.equal(write.func, 0x05);
  assert.equal(write.frame, 8);
  assert.equal(write.write, true);
  assert.equal(write.anomaly, null);
  assert.deepEqual(write.targets, [{ space: 'DB1', start: 16, count: 4 }]);
  // Whole TPDUs go on being dissected straight from the frame, and the state holds nothing between units.
  assert.equal(feed([dt(readVar(9))], state)[0]![0]!.func, 0x04);
  assert.equal(state.tsdu!.size, 0);
});

test('without per-direction state each TPDU is dissected alone (no silent loss)', () => {
  const out: Message[] = [];
  const [first] = fragments(plcStop(7), [12]);
  s7comm.dissect(first!, 0, first!.length, ctx(1), true, out);
  assert.equal(out.length, 1);
  assert.match(out[0]!.anomaly?.detail ?? '', /exceed/);
});

test('a TSDU that never ends gives one anomaly and holds bounded memory; the next job is whole again', () => {
  const state = s7comm.newState();
  const chunk = dt(Buffer.concat([Buffer.from([0x32, 1]), Buffer.alloc(998, 0x41)]), false);
  const anomalies: Message[] = [];
  let most = 0;
  for (let i = 0; i < 1000; i++) {
    const out: Message[] = [];
    s7comm.dissect(chunk, 0, chunk.length, ctx(i + 1), true, out, state);
    anomalies.push(...out);
    most = Math.max(most, state.tsdu!.size);
  }
  assert.equal(anomalies.length, 1, 'one anomaly for the whole never-ending unit');
  assert.equal(anomalies[0]!.protocol, 's7comm');
  assert.equal(anomalies[0]!.role, 'request');
  assert.equal(anomalies[0]!.func, -1);
  assert.match(anomalies[0]!.anomaly!.detail, /COTP TSDU exceeds 65536 bytes/);
  assert.ok(most <= 1 << 16, `held ${most} bytes`);
  assert.equal(state.tsdu!.size, 0, 'the unit is given up, not kept');
  // Its EOT fragment ends the given-up unit silently; the next job is whole again.
  assert.deepEqual(feed([dt(Buffer.from([1, 2, 3]))], state)[0], []);
  assert.deepEqual(
    feed(fragments(plcStop(5), [9]), state).map((o) => o.map((m) => m.func)),
    [[], [0x29]],
  );
});

test('endless empty DT fragments are bounded by count', () => {
  const state = s7comm.newState();
  const empty = dt(Buffer.alloc(0), false);
  const out: Message[] = [];
  for (let i = 0; i < 5000; i++) s7comm.dissect(empty, 0, empty.length, ctx(i), true, out, state);
  assert.equal(out.length, 1);
  assert.match(out[0]!.anomaly!.detail, /1024 DT fragments/);
});

test('a CR or another non-DT TPDU between fragments abandons the unit, reported once', () => {
  const state = s7comm.newState();
  const [first] = fragments(writeVar(3), [14]);
  const outs = feed([first!, CR, ...fragments(plcStop(4), [5])], state);
  assert.equal(outs[0]!.length, 0);
  assert.equal(outs[1]!.length, 1);
  assert.match(outs[1]![0]!.anomaly!.detail, /abandoned after 1 DT fragments \(TPDU 0xe0\)/);
  assert.deepEqual(
    outs.slice(2).map((o) => o.map((m) => m.func)),
    [[], [0x29]],
    'the job after the CR is not joined to the old fragment',
  );
  // An S7comm-plus unit is reported as S7comm-plus, and from the server as a response.
  const DR = Buffer.from('0300000b06800000000100', 'hex');
  const plus = feed([dt(Buffer.from([0x72, 1, 0, 20]), false), DR], s7comm.newState(), false);
  assert.equal(plus[1]![0]!.protocol, 's7comm_plus');
  assert.equal(plus[1]![0]!.role, 'response');
});

test('the pipeline does not join fragments across a lost TCP segment', () => {
  const f = new TcpFlow(hmi, plc);
  const [a, b, c] = fragments(plcStop(6), [7, 16]);
  const frames = [...f.handshake(), f.send(true, a!)];
  f.send(true, b!); // lost: never captured
  frames.push(f.send(true, c!), f.send(true, dt(readVar(7))));
  const msgs: Message[] = [];
  const p = new DissectPipeline({ onMessage: (m) => msgs.push({ ...m }) });
  frames.forEach((data, i) =>
    p.push({
      index: i + 1,
      ts: i,
      linkType: 1,
      iface: 0,
      data,
      offset: 0,
      capLen: data.length,
      origLen: data.length,
    }),
  );
  assert.equal(p.stats.anomalies.tcp_gap, 1);
  assert.deepEqual(
    msgs.map((m) => [m.frame, m.func]),
    [[6, 0x04]],
    'no PDU made of the fragments on both sides of the hole',
  );
});
