// What a run keeps of its detections (issue 18, detection's cost): the explanation and key of every detection stay
// in memory until the run ends, so they must be kept as one string each, not as the tree of pieces a template
// literal builds, and the text, key and id must be exactly what they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { getHeapSnapshot } from 'node:v8';
import { Aggregator } from '../../src/detect/aggregator.js';
import { finding, type Detection } from '../../src/detect/detection.js';

/** How many strings of V8's concatenation kind the heap holds (a snapshot collects garbage first). */
async function concatenations(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const c of getHeapSnapshot()) chunks.push(c as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const type = fields.indexOf('type');
  const cons = snap.snapshot.meta.node_types[0].indexOf('concatenated string');
  let n = 0;
  for (let i = type; i < snap.nodes.length; i += fields.length) if (snap.nodes[i] === cons) n++;
  return n;
}

/** Client and server addresses, made before the heap is counted (a dissector's are made as packets arrive). */
function hosts(n: number): [string, string][] {
  return Array.from({ length: n }, (_, i) => [
    `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
    `10.200.${(i >> 8) & 255}.${i & 255}`,
  ]);
}

/** A polling_stopped finding whose text is built as the timing detector builds it. */
function stopped(i: number, [client, server]: [string, string]): ReturnType<typeof finding> {
  const period = 0.25 + i / 1000;
  return finding({
    type: 'polling_stopped',
    severity: 'high',
    ts: 1_700_000_000 + i,
    frame: 0,
    src: client,
    dst: server,
    protocol: 'modbus',
    detail: '',
    fields: { poll_interval: period },
    explanation: `${client} stopped polling ${server}: it polled every ${period.toFixed(3)} s and has been silent for ${(i / 3).toFixed(1)} s.`,
    response: 'check',
  });
}

test('kept detections hold their explanations and keys as flat strings, not as the pieces they were built from', async () => {
  const agg = new Aggregator(300);
  const kept: Detection[] = [];
  const pairs = hosts(3000);
  const before = await concatenations();
  for (let i = 0; i < 3000; i++) kept.push(agg.add(stopped(i, pairs[i]!))!);
  // A string flattened in place keeps a shell that points at its one piece until the next young-generation
  // collection drops it (a pass meets one every ~50,000 packets): garbage, as packets leave, brings a few.
  const garbage: { i: number }[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    garbage.push({ i });
    if (garbage.length > 1000) garbage.length = 0;
  }
  const grown = (await concatenations()) - before;
  // Kept as built, an explanation and its key are ~12 concatenations: ~36,000 for 3,000 detections.
  assert.ok(grown < 3000, `${grown} concatenations kept for 3,000 detections`);
  assert.equal(kept.length, 3000);
});

test('the kept text, key and id are exactly the finding’s, whatever characters it holds', () => {
  const agg = new Aggregator(300);
  const odd = [
    '',
    'plain',
    'ünïcödé → 制御',
    'lone \ud800 surrogate and \udc00 its other half',
    'the pattern itself: \u0000\u0001\u0002 and \u0000\u0001',
    `${'x'.repeat(40)}${'y'.repeat(3)}${String(0.1 + 0.2)}`,
  ];
  odd.forEach((text, i) => {
    const ts = 1_700_000_000.5 + i;
    const f = finding({
      type: 'cpu_stop',
      severity: 'high',
      ts,
      frame: i,
      src: `src-${text}`,
      dst: '10.0.0.1',
      protocol: 's7comm',
      detail: `s7comm:${i}`,
      fields: {},
      explanation: `${text}${text}`,
      response: 'check',
    });
    const d = agg.add(f)!;
    assert.equal(d.explanation, `${text}${text}`);
    const key = `cpu_stop|src-${text}|10.0.0.1|s7comm:${i}`;
    const id = createHash('sha256').update(`${key}|${ts}`).digest('hex').slice(0, 16);
    assert.equal(d.id, id);
    // A repeat finds the detection by the same key and folds into it.
    assert.equal(agg.add({ ...f, ts: ts + 1 }), null);
    assert.equal(d.count, 2);
  });
});
