// DNP3 transport segments: which link frames are fragments, how a segmented request is joined, and what a peer
// that breaks the segment sequence or never sends FIN gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dnp3Tcp, type Dnp3StreamState } from '../../src/dissect/protocols/dnp3.js';
import type { Message, PduContext } from '../../src/dissect/message.js';
import { directOperate, linkFrame, segments } from '../fixtures-gen/dnp3-frames.js';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { tsharkFuncs, weirFuncs } from './tshark-compare.js';
import dnp3spec from './oracle/dnp3.js';
import { pduContext } from '../helpers/pdu-context.js';

const MASTER = 1,
  OUTSTATION = 10;
const ctx = (frame: number): PduContext =>
  pduContext({ frame, ts: frame, srcIp: '10.20.0.1', dstIp: '10.20.0.2', dstPort: 20000 });

function feed(frames: Buffer[], state: Dnp3StreamState = dnp3Tcp.newState()): Message[][] {
  return frames.map((f, i) => {
    assert.equal(dnp3Tcp.pduLength(f, 0, f.length), f.length);
    const out: Message[] = [];
    dnp3Tcp.dissect(f, 0, f.length, ctx(i + 1), true, out, state);
    return out;
  });
}

const points = Array.from({ length: 20 }, (_, i) => 100 + i);
const operate = () => segments(OUTSTATION, MASTER, directOperate(points), 130);

test('partial: a link frame whose transport segment is not FIN is a fragment; link-only frames are not', () => {
  const [first, middle, last] = operate();
  const is = (b: Buffer) => dnp3Tcp.partial!(b, 0, b.length);
  assert.equal(is(first!), true, 'FIR without FIN');
  assert.equal(is(middle!), true, 'neither FIR nor FIN');
  assert.equal(is(last!), false, 'FIN');
  assert.equal(
    is(segments(OUTSTATION, MASTER, Buffer.from([0xc1, 1, 60, 2, 6]))[0]!),
    false,
    'FIR and FIN',
  );
  assert.equal(
    is(linkFrame(OUTSTATION, MASTER, Buffer.alloc(0), 0xc9)),
    false,
    'request link status: no user data',
  );
  assert.equal(is(Buffer.from([0x05, 0x64, 5])), false, 'truncated');
});

test("a request in three transport segments is emitted at FIN with the whole fragment's object headers", () => {
  const frames = operate();
  assert.equal(frames.length, 3);
  const outs = feed(frames);
  assert.deepEqual(
    outs.map((o) => o.length),
    [0, 0, 1],
  );
  const m = outs[2]![0]!;
  assert.equal(m.func, 5);
  assert.equal(m.frame, 3);
  assert.equal(m.write, true);
  assert.equal(m.anomaly, null);
  assert.deepEqual(
    m.targets,
    points.map((p) => ({ space: 'g12v1', start: p, count: 1 })).slice(0, 32),
  );
});

test("fragments joined one after another on one stream decode as each alone: no byte of the last one's buffer carries over", () => {
  // The joiner keeps its buffer for the stream's next fragment (FragmentJoiner.takeTransient): a long fragment
  // first, then shorter and differently cut ones, each judged by what a fresh stream makes of it.
  const many = Array.from({ length: 30 }, (_, i) => 200 + i);
  const few = points.slice(0, 7);
  const fragments = [
    segments(OUTSTATION, MASTER, directOperate(many), 130),
    segments(OUTSTATION, MASTER, directOperate(few, 4), 40),
    segments(OUTSTATION, MASTER, directOperate(points, 5), 249),
    segments(OUTSTATION, MASTER, directOperate(few, 6), 25),
  ];
  const alone = fragments.map((f) => feed(f).flat());
  const state = dnp3Tcp.newState();
  const together = fragments.map((f) => feed(f, state).flat());
  assert.ok(
    fragments.every((f) => f.length > 1),
    'every fragment spans segments',
  );
  assert.deepEqual(together, alone);
  assert.deepEqual(
    together.map((o) => o.map((m) => [m.func, m.targets?.length, m.anomaly])),
    [[[5, 30, null]], [[5, 7, null]], [[5, 20, null]], [[5, 7, null]]],
  );
});

test('a segment out of sequence or without a first segment gives one anomaly per broken fragment', () => {
  const [a, b, c] = operate();
  const late = segments(OUTSTATION, MASTER, directOperate(points), 130, 9); // sequence 9..11
  const outs = feed([a!, late[1]!, c!, b!, c!, ...operate()]);
  const anomalies = outs.flat().filter((m) => m.anomaly !== null);
  assert.ok(
    anomalies.every((m) => m.role === 'request' && m.func === -1 && m.unit === OUTSTATION),
    "a client's broken fragment is a request the gateway can refuse",
  );
  assert.deepEqual(
    anomalies.map((m) => [m.frame, m.anomaly!.detail]),
    [
      [2, 'transport segment 10 out of sequence (expected 1)'],
      [4, 'transport segment 1 without a first segment'],
    ],
  );
  assert.deepEqual(
    outs
      .flat()
      .filter((m) => m.anomaly === null)
      .map((m) => [m.frame, m.func]),
    [[8, 5]],
    'the next whole fragment is judged',
  );
});

test('a new first segment abandons the fragment being joined, reported once', () => {
  const [a] = operate();
  const outs = feed([a!, ...operate()]);
  assert.deepEqual(
    outs.flat().map((m) => [m.frame, m.func, m.anomaly?.detail ?? null]),
    [
      [2, -1, 'transport fragment abandoned after 1 segments: a new first segment'],
      [4, 5, null],
    ],
  );
});

test('segments that never reach FIN give one anomaly and bounded memory', () => {
  const state = dnp3Tcp.newState();
  const out: Message[] = [];
  let most = 0;
  const body = Buffer.alloc(240, 0x11);
  for (let i = 0; i < 2000; i++) {
    const f = linkFrame(
      OUTSTATION,
      MASTER,
      Buffer.concat([Buffer.from([(i === 0 ? 0x40 : 0) | (i & 0x3f)]), body]),
    );
    dnp3Tcp.dissect(f, 0, f.length, ctx(i + 1), true, out, state);
    most = Math.max(most, state.reassembly!.joiner.size);
  }
  assert.equal(out.length, 1);
  assert.match(out[0]!.anomaly!.detail, /transport fragment exceeds 4096 bytes/);
  assert.ok(most <= 4096, `held ${most}`);
  // Empty segments (a transport header alone) are bounded by count.
  const empty: Message[] = [];
  const st2 = dnp3Tcp.newState();
  for (let i = 0; i < 2000; i++) {
    const f = linkFrame(OUTSTATION, MASTER, Buffer.from([(i === 0 ? 0x40 : 0) | (i & 0x3f)]));
    dnp3Tcp.dissect(f, 0, f.length, ctx(i + 1), true, empty, st2);
  }
  assert.equal(empty.length, 1);
  assert.match(empty[0]!.anomaly!.detail, /segments/);
});

test('a CRC error in an earlier segment marks the joined fragment', () => {
  const frames = operate();
  const bad = Buffer.from(frames[1]!);
  bad[20] ^= 0xff; // inside the first data block of the middle segment
  const outs = feed([frames[0]!, bad, frames[2]!]);
  assert.equal(outs[2]![0]!.func, 5);
  assert.deepEqual(outs[2]![0]!.anomaly, {
    kind: 'link_crc_mismatch',
    detail: 'link CRC mismatch',
  });
});

test('tshark sees the segmented request at the same frame', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-dnp3seg-'));
  try {
    const f = new TcpFlow(
      { mac: '02:00:00:00:14:01', ip: '10.20.0.1', port: 40000 },
      { mac: '02:00:00:00:14:02', ip: '10.20.0.2', port: 20000 },
    );
    const frames = [
      ...f.handshake(),
      ...operate().map((l) => f.send(true, l)),
      f.send(true, segments(OUTSTATION, MASTER, Buffer.from([0xc4, 1, 60, 1, 6]))[0]!),
    ];
    const file = path.join(dir, 'dnp3-segments.pcap');
    writeFileSync(file, pcap(frames));
    const theirs = await tsharkFuncs(file, dnp3spec);
    const ours = await weirFuncs(file);
    assert.deepEqual(
      [...theirs],
      [
        [6, [5]],
        [7, [1]],
      ],
    );
    assert.deepEqual(
      [...ours],
      [
        ['6|dnp3', [5]],
        ['7|dnp3', [1]],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
