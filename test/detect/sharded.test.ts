import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { between } from '../../src/dissect/stage.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom, type Baseline } from '../../src/discover/baseline.js';
import { ShardedRun } from '../../src/discover/sharded.js';
import { detectRoute } from '../../src/discover/shard-index.js';
import { DetectShard } from '../../src/detect/shard-core.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import {
  mainThreadDetectors,
  mergeDetections,
  type DetectShardInit,
  type DetectShardResult,
} from '../../src/detect/shard-split.js';
import { DEFAULT_SETTINGS } from '../../src/settings/model.js';
import { makeBenchInput } from '../../bench/make-input.js';
import { repoRoot, sharedCapture, sharedCaptures } from '../helpers/paths.js';
import { weir } from '../helpers/weir-cli.js';

const settings = DEFAULT_SETTINGS.detect;
const worker = new URL('../../src/detect/shard-worker.js', import.meta.url);

/** A baseline learned from the capture's frames before `split`. */
function learn(file: string, split: number): Baseline {
  const inv = new Inventory();
  const values = new ValueRanges();
  const p = new DissectPipeline([between(-Infinity, split, inv, values)]);
  readCaptureSync(file, (f) => p.push(f));
  return baselineFrom(inv.snapshot(), values.ranges(), { version: 1, sources: [file] });
}

function midpoint(file: string): number {
  let first = Infinity,
    last = -Infinity;
  readCaptureSync(file, (f) => {
    first = Math.min(first, f.ts);
    last = Math.max(last, f.ts);
  });
  return first + (last - first) / 2;
}

function oneThread(file: string, b: Baseline, from: number, decoys: string[] = []): string {
  const engine = new DetectionEngine(b, { settings, decoys: new Set(decoys) });
  const p = new DissectPipeline([between(from, Infinity, engine)]);
  readCaptureSync(file, (f) => p.push(f));
  return JSON.stringify({ detections: engine.finish(), muted: engine.muted });
}

/**
 * As `weir detect --workers n` runs it: cross-flow detectors and group I/O here, per-edge ones in the shard
 * workers.
 */
async function sharded(
  file: string,
  b: Baseline,
  from: number,
  n: number,
  decoys: string[] = [],
  /** Shard 0 on this thread with this share of the address pairs (as the CLI runs it); else all on workers. */
  inline?: number,
): Promise<string> {
  const engine = new DetectionEngine(b, {
    settings,
    decoys: new Set(decoys),
    detectors: mainThreadDetectors(settings, {}),
    decoyContact: false,
  });
  const extra: DetectShardInit = {
    baseline: b,
    settings,
    windowSeconds: settings.fold_window_s,
    mutes: [],
    decoys,
    from,
  };
  const run = new ShardedRun(n, {
    maxEdges: DEFAULT_SETTINGS.inventory.max_edges,
    dissect: DEFAULT_SETTINGS.dissect,
    worker,
    extra,
    route: detectRoute(from),
    inline: inline === undefined ? undefined : (init) => new DetectShard(init),
    mainShare: inline,
  });
  try {
    await run.runFile(file, {
      onPacket: (p) => {
        if (p.ts >= from) engine.onPacket(p);
      },
      onMessage: (m) => engine.onMessage(m),
    });
    await run.finish();
    const shards = run.extras as DetectShardResult[];
    return JSON.stringify({
      detections: mergeDetections([engine.finish(), ...shards.map((s) => s.detections)]),
      muted: engine.muted + shards.reduce((n, s) => n + s.muted, 0),
    });
  } finally {
    await run.close();
  }
}

async function assertSame(file: string, label: string): Promise<number> {
  const from = midpoint(file);
  const b = learn(file, from);
  const one = oneThread(file, b, from);
  for (const n of [2, 3])
    assert.equal(await sharded(file, b, from, n), one, `${label}, ${n} workers`);
  for (const [n, share] of [
    [2, 0.4],
    [2, 0],
    [3, 1],
  ] as const)
    assert.equal(
      await sharded(file, b, from, n, [], share),
      one,
      `${label}, ${n} shards, main thread's share ${share}`,
    );
  return (JSON.parse(one) as { detections: unknown[] }).detections.length;
}

test('weir detect: the same detections with 1, 2 and 3 workers on the plant fixture', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-detect-'));
  try {
    const db = path.join(dir, 'w.db');
    const plant = path.join(repoRoot, 'fixtures/plant.pcap');
    const l = await weir(['learn', '--db', db, '--create', '--until', '50%', plant]);
    assert.equal(l.code, 0, l.stderr);
    const outs = [];
    for (const n of ['1', '2', '3']) {
      const r = await weir([
        'detect',
        '--baseline',
        db,
        '--no-save',
        '--jsonl',
        '--from',
        '50%',
        '--workers',
        n,
        plant,
      ]);
      assert.equal(r.code, 0, r.stderr);
      outs.push(r.stdout);
    }
    assert.ok(outs[0]!.split('\n').filter(Boolean).length >= 5, outs[0]);
    assert.equal(outs[1], outs[0]);
    assert.equal(outs[2], outs[0]);
    const live = await weir(['detect', '--baseline', db, '--workers', '2', '-']);
    assert.notEqual(live.code, 0);
    assert.match(live.stderr, /live input and --export run on one thread/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sharded detection equals one thread on every real capture in ../shared/pcaps', async () => {
  const files = sharedCaptures();
  if (files === null) return; // not on this machine (CI fails instead: see sharedCaptures)
  let total = 0;
  for (const f of files) total += await assertSame(f, path.basename(f));
  assert.ok(total > 20, `only ${total} detections over the shared captures`);
});

test('sharded detection equals one thread on a generated larger input', async () => {
  const sources = [
    'icsnpp/modbus_example.pcap',
    'icsnpp/s7comm_snap7.pcap',
    'icsnpp/dnp3_example.pcap',
    'icsnpp/bacnet_example.pcap',
    'iti/profinet__PROFINET-RT-DCP__ChangeIPUsingDCP.pcap',
  ].map(sharedCapture);
  if (sources.some((s) => s === null)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-detect-'));
  try {
    const big = path.join(dir, 'big.pcap');
    await makeBenchInput(sources as string[], 60_000, big);
    const n = await assertSame(big, 'generated 60,000 frames');
    assert.ok(n > 100, `only ${n} detections`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decoys: contacts found in the workers, what a decoy sends dropped everywhere, as on one thread', async () => {
  const plant = path.join(repoRoot, 'fixtures/plant.pcap');
  const from = midpoint(plant);
  const b = learn(plant, from);
  // The intruder appears only after the learning half: taken for a decoy, its traffic is contact with it.
  const decoys = ['10.77.0.66', '10.77.0.250'];
  const one = oneThread(plant, b, from, decoys);
  const parsed = JSON.parse(one) as { detections: { type: string; src: string }[] };
  assert.ok(
    parsed.detections.some((d) => d.type === 'decoy_contact'),
    one,
  );
  assert.ok(!parsed.detections.some((d) => d.src === '10.77.0.66' && d.type !== 'decoy_contact'));
  for (const n of [2, 3])
    assert.equal(await sharded(plant, b, from, n, decoys), one, `${n} workers`);
  assert.equal(await sharded(plant, b, from, 2, decoys, 0.4), one, 'shard 0 on the main thread');
});
