// EtherNet/IP class 1 I/O against the pace its Forward_Open agreed and the baseline learned: a lab capture at a
// set RPI that then slows, speeds up (a second sender on the connection id), stops, or is closed on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { learnThenDetectAt } from '../../bench/detect.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom, ioProfileKey } from '../../src/discover/baseline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { techniquesFor } from '../../src/detect/attack-map.js';
import type { Detection } from '../../src/detect/detection.js';
import { enipIoTiming, IO_START, type IoChange } from '../fixtures-gen/enip-io-timing.js';
import { ADAPTER, OT_RPI, SCANNER, TO_RPI } from '../fixtures-gen/enip-io.js';
import { sharedCapture } from '../helpers/paths.js';

const IO_TYPES = new Set(['io_interval_drift', 'io_rate_high', 'io_connection_stopped']);
const dir = mkdtempSync(path.join(tmpdir(), 'weir-io-timing-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function capture(change: IoChange): string {
  const f = path.join(dir, `${change}.pcap`);
  writeFileSync(f, enipIoTiming({ change }));
  return f;
}

/** Learn on the first 20 s of steady I/O, detect on the rest: only the I/O timing detections. */
function learnThenDetect(change: IoChange): Detection[] {
  const r = learnThenDetectAt(capture(change), IO_START + 20);
  return r.detections.filter((d) => IO_TYPES.has(d.type));
}

test('the baseline keeps each I/O direction’s agreed RPI and the interval and spread it really kept', () => {
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  readCaptureSync(capture('steady'), (f) => p.push(f));
  const b = baselineFrom(
    inv.snapshot(),
    new ValueRanges().ranges(),
    { version: 1, sources: [] },
    inv.io.connections(),
  );
  const ot = b.io?.[ioProfileKey(SCANNER.ip, ADAPTER.ip, OT_RPI)];
  const to = b.io?.[ioProfileKey(ADAPTER.ip, SCANNER.ip, TO_RPI)];
  assert.ok(ot && to, JSON.stringify(b.io));
  assert.equal(ot.direction, 'O->T');
  assert.equal(to.direction, 'T->O');
  assert.ok(Math.abs(ot.intervalUs - OT_RPI) <= 300, `O→T ${ot.intervalUs} µs`);
  assert.ok(Math.abs(to.intervalUs - TO_RPI) <= 300, `T→O ${to.intervalUs} µs`);
  assert.ok(ot.spreadUs > 0 && ot.spreadUs < 600, `spread ${ot.spreadUs} µs`);
});

test('steady I/O at its learned pace raises nothing', () => {
  assert.deepEqual(learnThenDetect('steady'), []);
});

test('a SPAN port that mirrors every datagram twice does not look like a second sender', () => {
  const f = path.join(dir, 'duplicated.pcap');
  writeFileSync(f, enipIoTiming({ change: 'steady', duplicate: true }));
  const ds = learnThenDetectAt(f, IO_START + 20).detections.filter((d) => IO_TYPES.has(d.type));
  assert.deepEqual(ds, []);
  // Learned at the producer's pace, not half of it.
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  readCaptureSync(f, (fr) => p.push(fr));
  const ot = inv.io.connections().find((c) => c.direction === 'O->T')!;
  const b = baselineFrom(inv.snapshot(), new Map(), { version: 1, sources: [] }, [ot]);
  const learned = Object.values(b.io ?? {})[0];
  assert.ok(learned && Math.abs(learned.intervalUs - OT_RPI) <= 300, JSON.stringify(learned));
  // …and a duplicated capture where the O→T producer slows is still drift, not hidden by the copies.
  const slow = path.join(dir, 'duplicated-slow.pcap');
  writeFileSync(slow, enipIoTiming({ change: 'slow', duplicate: true }));
  assert.deepEqual(
    learnThenDetectAt(slow, IO_START + 20)
      .detections.filter((d) => IO_TYPES.has(d.type))
      .map((d) => d.type),
    ['io_interval_drift'],
  );
});

test('an O→T producer slowed from 10 to 16 ms drifts out of its band and its RPI (Denial of Service)', () => {
  const ds = learnThenDetect('slow');
  assert.equal(ds.length, 1, JSON.stringify(ds.map((d) => d.type)));
  const d = ds[0]!;
  assert.equal(d.type, 'io_interval_drift');
  assert.equal(d.src, SCANNER.ip);
  assert.equal(d.dst, ADAPTER.ip);
  assert.equal(d.evidence.fields.direction, 'O->T');
  const observed = Number(d.evidence.fields.observed_interval_us);
  assert.ok(Math.abs(observed - 16_000) < 500, String(observed));
  assert.deepEqual(techniquesFor(d), ['T0814']);
});

test('a second sender on the O→T connection id doubles its pace: injected I/O (Brute Force I/O)', () => {
  const ds = learnThenDetect('fast');
  assert.deepEqual(
    ds.map((d) => d.type),
    ['io_rate_high'],
  );
  assert.equal(ds[0]!.severity, 'high');
  assert.deepEqual(techniquesFor(ds[0]!), ['T0806', 'T0855']);
});

test('O→T datagrams that stop without a Forward_Close are a stopped connection; the inputs keep running', () => {
  const ds = learnThenDetect('stop');
  assert.deepEqual(
    ds.map((d) => `${d.type} ${d.src}`),
    [`io_connection_stopped ${SCANNER.ip}`],
  );
  assert.deepEqual(techniquesFor(ds[0]!), ['T0814', 'T0827']);
  assert.ok(Number(ds[0]!.evidence.fields.silent_for_s) >= 0.25);
});

test('a Forward_Close ends both directions on purpose: no stop is reported', () => {
  assert.deepEqual(learnThenDetect('close'), []);
});

/** learnThenDetect with the engine beside an inventory (the bench's and `weir node`'s path). */
function learnThenDetectShared(change: IoChange): Detection[] {
  const file = capture(change);
  const split = IO_START + 20;
  const learned = new Inventory();
  const values = new ValueRanges();
  const inv = new Inventory();
  let engine: DetectionEngine | null = null;
  const p = new DissectPipeline({
    onPacket(pkt) {
      if (pkt.ts < split) return learned.onPacket(pkt);
      engine ??= new DetectionEngine(
        baselineFrom(
          learned.snapshot(),
          values.ranges(),
          { version: 1, sources: [file] },
          learned.io.connections(),
        ),
        { inventory: inv },
      );
      inv.onPacket(pkt);
      engine.onPacket(pkt);
    },
    onMessage(m) {
      if (m.ts < split) {
        learned.onMessage(m);
        values.onMessage(m);
        return;
      }
      inv.onMessage(m);
      engine!.onMessage(m);
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  return engine!.finish().filter((d) => IO_TYPES.has(d.type));
}

test('beside an inventory (the shared edge path), io_timing reports exactly what it reports alone', () => {
  for (const change of ['slow', 'fast', 'stop', 'close'] as const) {
    const own = learnThenDetect(change);
    assert.equal(JSON.stringify(learnThenDetectShared(change)), JSON.stringify(own), change);
    assert.equal(own.length, change === 'close' ? 0 : 1, change);
  }
  // Nothing learned: the RPI the Forward_Open agreed is the yardstick on this path too.
  const inv = new Inventory();
  const engine = new DetectionEngine(
    baselineFrom({ assets: [], edges: [] }, new Map(), { version: 1, sources: [] }),
    { inventory: inv },
  );
  const p = new DissectPipeline([inv, engine]);
  readCaptureSync(capture('slow'), (f) => p.push(f));
  const ds = engine.finish().filter((d) => IO_TYPES.has(d.type));
  assert.deepEqual(
    ds.map((d) => [d.type, d.evidence.fields.rpi_us]),
    [['io_interval_drift', OT_RPI]],
  );
});

test('without a learned baseline the RPI agreed by the Forward_Open is the yardstick', () => {
  const engine = new DetectionEngine(
    baselineFrom({ assets: [], edges: [] }, new Map(), { version: 1, sources: [] }),
  );
  const p = new DissectPipeline({
    onPacket: (x) => engine.onPacket(x),
    onMessage: (m) => engine.onMessage(m),
  });
  readCaptureSync(capture('slow'), (f) => p.push(f));
  const ds = engine.finish().filter((d) => IO_TYPES.has(d.type));
  assert.deepEqual(
    ds.map((d) => d.type),
    ['io_interval_drift'],
  );
  assert.equal(ds[0]!.evidence.fields.rpi_us, OT_RPI);
  assert.equal(ds[0]!.evidence.fields.learned_interval_us, null);
});

test('a real capture with class 1 I/O but without its Forward_Open: nothing is learned or reported for it', (t) => {
  // icsnpp's enip_cip_example.pcap: 12 T→O connections from 192.168.1.24 and 12 O→T ones, opened before it began.
  const file = sharedCapture('icsnpp/enip_cip_example.pcap');
  if (file === null) return t.skip('shared capture missing');
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  let io = 0;
  const count = new DissectPipeline({
    onMessage: (m) => {
      if (m.protocol === 'enip' && m.funcName === 'IO') io++;
    },
  });
  readCaptureSync(file, (f) => {
    p.push(f);
    count.push(f);
  });
  assert.ok(io >= 390, `${io} I/O datagrams dissected`);
  const b = baselineFrom(
    inv.snapshot(),
    new Map(),
    { version: 1, sources: [file] },
    inv.io.connections(),
  );
  assert.equal(b.io, undefined, 'no agreed RPI to learn against');
  let first = Infinity,
    last = -Infinity;
  readCaptureSync(file, (f) => {
    first = Math.min(first, f.ts);
    last = Math.max(last, f.ts);
  });
  const ds = learnThenDetectAt(file, (first + last) / 2).detections;
  assert.deepEqual(
    ds.filter((d) => IO_TYPES.has(d.type)),
    [],
  );
});
