import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { ioTiming } from '../../src/detect/detectors/io-timing.js';
import { Inventory } from '../../src/discover/inventory.js';
import { baselineFrom } from '../../src/discover/baseline.js';
import { pcapAt } from '../fixtures-gen/enip-io-timing.js';
import { udp } from '../fixtures-gen/pcap-writer.js';
import { host, ioFrame, replyFrame } from '../helpers/enip-io-frames.js';
import { class0, dnp3Request } from '../helpers/ics-frames.js';
import { weir } from '../helpers/weir-cli.js';

/**
 * Found this way (main at 514d8db, before this test): the EtherNet/IP I/O connection tables (the inventory's
 * IoConnections, io_timing's own and its watches) held 8,192 connection directions per shard, so a flood of
 * 4,200 Forward_Open replies reset one thread's table (the connection opened before the flood was forgotten)
 * but no shard's of `--workers 3`: there it stayed known, its slow I/O was reported as io_interval_drift that
 * one thread does not report, and a datagram on an id nobody opened between its hosts was an
 * io_unknown_connection anomaly only in `discover --workers 3`. The reset was not counted either, so the run
 * could not tell. Now each shard holds its share of the bound, counts a reset (`io_connections`,
 * `io_watches`), and the run reads the files again on one thread.
 */

const SCANNER = '10.45.0.10',
  ADAPTER = '10.45.0.20',
  OT_ID = 0x20000001,
  TO_ID = 0x30000002;
const T0 = 1_767_225_600;

/**
 * One connection opened (10 ms both ways), then `flood` Forward_Open replies between other pairs, then the first
 * connection's O→T datagrams every 20 ms (twice its RPI: drift, if it is still known) and one datagram on an id
 * nobody opened between its hosts.
 */
function ioFlood(flood: number): Buffer {
  const out: Array<[number, Buffer]> = [[T0, replyFrame(SCANNER, ADAPTER, OT_ID, TO_ID)]];
  for (let k = 0; k < flood; k++) {
    const a = `10.60.${k >> 8}.${k & 255}`,
      b = `10.61.${k >> 8}.${k & 255}`;
    out.push([T0 + 0.01 + k * 1e-4, replyFrame(a, b, 0x40000000 + k, 0x50000000 + k)]);
  }
  for (let i = 1; i <= 40; i++) out.push([T0 + 1 + i * 0.02, ioFrame(SCANNER, ADAPTER, OT_ID, i)]);
  out.push([T0 + 2, ioFrame(SCANNER, ADAPTER, 0x7eadbeef, 1)]);
  return pcapAt(out);
}

/** What of a run's output is about I/O (the whole output is megabytes): for a failure's message. */
const ioOf = (out: string): string =>
  (
    out.match(/io_interval_drift|io_rate_high|io_connection_stopped|io_unknown_connection/g) ?? []
  ).join(' ') || 'no I/O findings';

test('a flood of Forward_Open replies past the I/O connection bound: detect and discover with workers equal one thread, and the bound is reported', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-io-floods-'));
  try {
    // A baseline that knows nothing of this I/O: only what the Forward_Opens agreed is watched.
    const normal = path.join(dir, 'normal.pcap');
    writeFileSync(normal, pcapAt([[T0 - 100, replyFrame('10.1.0.10', '10.1.0.20', 1, 2)]]));
    const db = path.join(dir, 'w.db');
    const l = await weir(['learn', '--db', db, '--create', normal]);
    assert.equal(l.code, 0, l.stderr);
    // 4,200 replies: 8,401 directions, past one thread's 8,192; about 4,200 for each of two worker threads.
    const file = path.join(dir, 'io-flood.pcap');
    writeFileSync(file, ioFlood(4200));
    const detect: string[] = [],
      discover: string[] = [];
    for (const n of ['1', '2', '3']) {
      const r = await weir([
        'detect',
        '--baseline',
        db,
        '--no-save',
        '--jsonl',
        '--workers',
        n,
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      detect.push(r.stdout);
      const d = await weir(['discover', '--json', '--workers', n, file]);
      assert.equal(d.code, 0, d.stderr);
      discover.push(d.stdout);
      if (n === '1') {
        assert.match(r.stderr, /bounds reached, not tracked: .*io_connections=\d+/, r.stderr);
        assert.match(d.stderr, /bounds reached, not tracked: .*io_connections=\d+/, d.stderr);
      }
    }
    // One thread forgot the first connection: no drift reported on it.
    assert.doesNotMatch(detect[0]!, /io_interval_drift/);
    for (const i of [1, 2]) {
      assert.ok(detect[i] === detect[0], `detect --workers ${i + 1}: ${ioOf(detect[i]!)}`);
      assert.ok(discover[i] === discover[0], `discover --workers ${i + 1}: ${ioOf(discover[i]!)}`);
    }
    // Without the flood the connection stays known: its drift and the unknown id are reported.
    const calm = path.join(dir, 'io-calm.pcap');
    writeFileSync(calm, ioFlood(10));
    const c = await weir([
      'detect',
      '--baseline',
      db,
      '--no-save',
      '--jsonl',
      '--workers',
      '3',
      calm,
    ]);
    assert.match(c.stdout, /io_interval_drift/);
    assert.doesNotMatch(c.stderr, /io_connections/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('io_timing counts what its bounds forget: connection directions (io_connections) and watches (io_watches)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-io-bounds-'));
  try {
    // Three connections, each opened and then sending one datagram: with room for two directions, each reply
    // after the first resets the point-to-point table (2 + 2 forgotten), the third the table of T→O directions
    // as a group's datagrams would name them (one a reply: 2 forgotten), and the third watch the watches.
    const frames: Array<[number, Buffer]> = [];
    for (let k = 0; k < 3; k++) {
      const a = `10.70.0.${k + 1}`,
        b = `10.71.0.${k + 1}`;
      frames.push([T0 + k, replyFrame(a, b, 0x100 + k, 0x200 + k)]);
      frames.push([T0 + k + 0.5, ioFrame(a, b, 0x100 + k, 1)]);
    }
    const file = path.join(dir, 'three.pcap');
    writeFileSync(file, pcapAt(frames));
    const capped: Record<string, number> = {};
    const b = baselineFrom(new Inventory().snapshot(), new Map(), { version: 1, sources: [] }, []);
    const engine = new DetectionEngine(b, { detectors: [ioTiming({ maxConnections: 2, capped })] });
    const p = new DissectPipeline([engine]);
    readCaptureSync(file, (f) => p.push(f));
    engine.finish();
    assert.deepEqual(capped, { io_connections: 6, io_watches: 2 });
    // The engine's own detectors count into the engine's `capped` (the default bound is not reached here).
    const own = new DetectionEngine(b);
    const q = new DissectPipeline([own]);
    readCaptureSync(file, (f) => q.push(f));
    own.finish();
    assert.deepEqual(own.capped, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a flood of DNP3 over UDP past the datagram state bound: discover with workers equals one thread, and the bound is reported', async () => {
  // Found the same way: one thread keeps the datagram reassembly state of 4,096 directions and evicts the
  // oldest beyond (a counted udp_state_evicted anomaly); each shard kept 4,096 of its own, so 4,200 directions
  // evicted on one thread and on no shard of `--workers 3`, and the anomaly counts differed.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-udp-floods-'));
  try {
    const frames: Array<[number, Buffer]> = [];
    for (let k = 0; k < 4200; k++) {
      const master = host(`10.80.${k >> 8}.${k & 255}`, 20000),
        outstation = host(`10.81.${k >> 8}.${k & 255}`, 20000);
      frames.push([T0 + k * 1e-4, udp(master, outstation, Buffer.from(dnp3Request(1, class0)))]);
    }
    const file = path.join(dir, 'dnp3-flood.pcap');
    writeFileSync(file, pcapAt(frames));
    const outs: string[] = [];
    for (const n of ['1', '2', '3']) {
      const d = await weir(['discover', '--json', '--workers', n, file]);
      assert.equal(d.code, 0, d.stderr);
      outs.push(d.stdout);
      if (n === '1') assert.match(d.stderr, /bounds reached, not tracked: .*udp_states=104/);
    }
    assert.match(outs[0]!, /"udp_state_evicted":104/);
    assert.equal(outs[1], outs[0], 'discover --workers 2');
    assert.equal(outs[2], outs[0], 'discover --workers 3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
