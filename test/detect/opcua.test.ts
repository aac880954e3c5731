// OPC UA writes and method calls are judged like any protocol's writes, from the registry's write flag and
// targets: a Write or Call from a client the baseline never saw is an unauthorised write (critical), and a known
// client's first Write or Call is a function outside its profile (high).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom } from '../../src/discover/baseline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { learnThenDetectAt } from '../../bench/detect.js';
import type { Frame } from '../../src/capture/frame.js';
import { repoRoot } from '../helpers/paths.js';

const FIXTURE = path.join(repoRoot, 'fixtures', 'opcua-session.pcap');
const CLIENT = [10, 84, 0, 20],
  INTRUDER = [10, 84, 0, 99];

/** Capture time of the first frame carrying a WriteRequest. */
function firstWriteTs(): number {
  let ts = Infinity;
  const p = new DissectPipeline({
    onMessage: (m) => {
      if (m.protocol === 'opcua' && m.func === 673 && m.ts < ts) ts = m.ts;
    },
  });
  readCaptureSync(FIXTURE, (f) => p.push(f));
  return ts;
}

test('a known OPC UA client’s first Write and Call fall outside its profile (high)', () => {
  // Learn on the session up to its first Write: GetEndpoints, sessions, reads and browsing.
  const r = learnThenDetectAt(FIXTURE, firstWriteTs() - 1e-6);
  const outside = r.detections.filter((d) => d.type === 'function_outside_profile');
  const by = new Map(outside.map((d) => [d.detail, d]));
  for (const f of ['opcua:673', 'opcua:712']) {
    const d = by.get(f);
    assert.ok(d, `${f} in ${outside.map((x) => x.detail).join(',')}`);
    assert.equal(d.severity, 'high');
    assert.equal(d.src, '10.84.0.20');
  }
});

/** Replace one IPv4 address in an Ethernet frame (checksums are not checked by the dissectors). */
function rewrite(f: Frame, from: number[], to: number[]): Frame {
  const data = f.data.slice(f.offset, f.offset + f.capLen);
  for (const o of [26, 30]) if (from.every((x, i) => data[o + i] === x)) data.set(to, o);
  return { ...f, data, offset: 0 };
}

test('a Write and a Call from an OPC UA client the baseline never saw are critical unauthorised writes', () => {
  const inv = new Inventory();
  const values = new ValueRanges();
  const learn = new DissectPipeline({
    onPacket: (p) => inv.onPacket(p),
    onMessage: (m) => {
      inv.onMessage(m);
      values.onMessage(m);
    },
  });
  readCaptureSync(FIXTURE, (f) => learn.push(f));
  const engine = new DetectionEngine(
    baselineFrom(inv.snapshot(), values.ranges(), { version: 1, sources: [FIXTURE] }),
  );
  const detect = new DissectPipeline({
    onPacket: (p) => engine.onPacket(p),
    onMessage: (m) => engine.onMessage(m),
  });
  readCaptureSync(FIXTURE, (f) => detect.push(rewrite(f, CLIENT, INTRUDER)));
  const ds = engine.finish().filter((d) => d.src === '10.84.0.99');
  const types = ds.map((d) => `${d.type} ${d.detail}`);
  assert.ok(
    types.some((t) => t.startsWith('new_edge')),
    types.join('; '),
  );
  const writes = ds.filter((d) => d.type === 'write_new_range');
  assert.deepEqual(
    writes.map((d) => d.detail).sort(),
    ['opcua:673', 'opcua:712'],
    types.join('; '),
  );
  for (const d of writes) assert.equal(d.severity, 'critical');
});
