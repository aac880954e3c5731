// Detection on traffic from real peers: the lab plant (pymodbus server, modbus-serial and snap7 clients,
// nmap) recorded in fixtures/plant.pcap. Learn on the normal first half, detect on the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { learnThenDetect } from '../../bench/detect.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';

test('lab plant: the PLC stop, the scan, the intruder and its writes are detected, and nothing else', () => {
  const r = learnThenDetect(path.join(repoRoot, 'fixtures/plant.pcap'), 0.5);
  const got = r.detections.map((d) => `${d.type} ${d.src}>${d.dst}`).sort();
  assert.deepEqual(got, [
    'cpu_stop 10.77.0.30>10.77.0.22',
    'new_asset 10.77.0.66>10.77.0.21',
    'new_edge 10.77.0.66>10.77.0.21',
    'port_scan 10.77.0.66>10.77.0.21',
    'write_new_range 10.77.0.66>10.77.0.21',
    'write_new_range 10.77.0.66>10.77.0.21',
  ]);
  const stop = r.detections.find((d) => d.type === 'cpu_stop')!;
  assert.equal(stop.severity, 'critical');
  assert.ok(stop.evidence.frames.length > 0 && stop.evidence.fields.func_name === 'PLC_STOP');
  const writes = r.detections
    .filter((d) => d.type === 'write_new_range')
    .map((d) => d.evidence.fields.space)
    .sort();
  assert.deepEqual(writes, ['coil', 'holding_register']);
});

test('real captures of normal operations stay quiet: learn on the first half, detect on the rest', (t) => {
  // Rates per 10k messages are recorded in bench/RESULTS.md; here the quiet ones must stay quiet.
  for (const [rel, max] of [
    ['ics-pcap/s7_1200_hmi_timer_sync.pcapng', 0],
    ['icsnpp/bacnet_services.pcap', 5],
  ] as const) {
    const f = sharedCapture(rel);
    if (!f) {
      t.skip('captures missing');
      return;
    }
    const r = learnThenDetect(f, 0.5);
    assert.ok(r.detections.length <= max, `${rel}: ${r.detections.map((d) => d.type).join(', ')}`);
  }
});

test("riding on the inventory's edge lookup gives the same detections as the engine alone", async () => {
  const { readCaptureSync } = await import('../../src/capture/source.js');
  const { DissectPipeline } = await import('../../src/dissect/pipeline.js');
  const { Inventory } = await import('../../src/discover/inventory.js');
  const { ValueRanges } = await import('../../src/discover/values.js');
  const { baselineFrom } = await import('../../src/discover/baseline.js');
  const { DetectionEngine } = await import('../../src/detect/engine.js');
  const file = path.join(repoRoot, 'fixtures/plant.pcap');
  let first = Infinity,
    last = 0;
  readCaptureSync(file, (f) => {
    first = Math.min(first, f.ts);
    last = Math.max(last, f.ts);
  });
  const split = (first + last) / 2;
  const inv = new Inventory(),
    vr = new ValueRanges();
  const p0 = new DissectPipeline({
    onPacket: (x) => {
      if (x.ts < split) inv.onPacket(x);
    },
    onMessage: (m) => {
      if (m.ts < split) {
        inv.onMessage(m);
        vr.onMessage(m);
      }
    },
  });
  readCaptureSync(file, (f) => p0.push(f));
  const b = baselineFrom(inv.snapshot(), vr.ranges(), { version: 1, sources: [] });
  const alone = new DetectionEngine(b);
  const inv2 = new Inventory();
  const shared = new DetectionEngine(b, { inventory: inv2 });
  const p = new DissectPipeline({
    onPacket: (x) => {
      if (x.ts < split) return;
      alone.onPacket(x);
      inv2.onPacket(x);
      shared.onPacket(x);
    },
    onMessage: (m) => {
      if (m.ts < split) return;
      alone.onMessage(m);
      inv2.onMessage(m);
      shared.onMessage(m);
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  const key = (ds: Array<{ type: string; src: string; dst: string; count: number }>) =>
    ds.map((d) => `${d.type} ${d.src}>${d.dst} ×${d.count}`).sort();
  assert.deepEqual(key(shared.finish()), key(alone.finish()));
});
