// One timed discover pass in a fresh process, on one thread or sharded over worker threads (bench/multicore.ts).
// Prints JSON: wall seconds, CPU seconds of the main thread, of each worker thread, and of the whole process.
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';
import { ShardedRun } from '../src/discover/sharded.js';
import { threadCpuSeconds } from '../src/discover/shard.js';
import { detectRoute } from '../src/discover/shard-index.js';
import { DiscoverShard } from '../src/discover/shard-core.js';
import { DetectShard } from '../src/detect/shard-core.js';
import { DEFAULT_SETTINGS } from '../src/settings/model.js';
import { readFileSync } from 'node:fs';
import type { Baseline } from '../src/discover/baseline.js';
import { DetectionEngine } from '../src/detect/engine.js';
import {
  mainThreadDetectors,
  mergeDetections,
  type DetectShardInit,
  type DetectShardResult,
} from '../src/detect/shard-split.js';

const [n, file, baselineFile] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
// WEIR_SHARD_INLINE=0: every shard on a worker thread (the main thread only reads, routes and keeps the asset
// half), as before shard 0 ran on the main thread; the default is as the CLI runs.
const inline = process.env.WEIR_SHARD_INLINE !== '0';
// WEIR_MAIN_SHARE: shard 0's part of the address pairs when inline (default: ShardedRun's).
const mainShare =
  process.env.WEIR_MAIN_SHARE !== undefined ? Number(process.env.WEIR_MAIN_SHARE) : undefined;
if (!file || !(n >= 1)) throw new Error('usage: multicore-worker WORKERS FILE [BASELINE.json]');
// With a baseline: the detect pass (the engine with its own edge table, as `weir detect` runs it).
const baseline =
  baselineFile !== undefined ? (JSON.parse(readFileSync(baselineFile, 'utf8')) as Baseline) : null;
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
let workerCpu: number[] = [];
let workerStart: number[] = [];
/** Frames read (the input's size, for rates). */
let frames = 0;
/** Main-thread CPU seconds of the inventory read-out (discover passes): the same work at any shard count. */
let readOut = 0;
const timed = (f: () => unknown): void => {
  const r0 = threadCpuSeconds();
  f();
  readOut = threadCpuSeconds() - r0;
};
// What the main thread had used before the pass: loading its modules.
const mainStart = threadCpuSeconds();
if (baseline !== null && n === 1) {
  const engine = new DetectionEngine(baseline);
  const p = new DissectPipeline([engine]);
  frames = readCaptureSync(file, (f) => p.push(f)).frames;
  engine.finish();
} else if (baseline !== null) {
  const engine = new DetectionEngine(baseline, {
    detectors: mainThreadDetectors(DEFAULT_SETTINGS.detect, {}),
  });
  const extra: DetectShardInit = {
    baseline,
    settings: DEFAULT_SETTINGS.detect,
    windowSeconds: DEFAULT_SETTINGS.detect.fold_window_s,
    mutes: [],
    decoys: [],
    from: -Infinity,
  };
  const run = new ShardedRun(n, {
    maxEdges: DEFAULT_SETTINGS.inventory.max_edges,
    dissect: DEFAULT_SETTINGS.dissect,
    worker: new URL('../src/detect/shard-worker.js', import.meta.url),
    extra,
    route: detectRoute(-Infinity),
    inline: inline ? (init) => new DetectShard(init) : undefined,
    mainShare,
  });
  const r = await run.runFile(file, {
    onPacket: (p) => engine.onPacket(p),
    onMessage: (m) => engine.onMessage(m),
  });
  frames = r.summary.frames;
  await run.finish();
  mergeDetections([
    engine.finish(),
    ...(run.extras as DetectShardResult[]).map((s) => s.detections),
  ]);
  workerCpu = run.workerCpu;
  workerStart = run.workerStartCpu;
} else if (n === 1) {
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  frames = readCaptureSync(file, (f) => p.push(f)).frames;
  timed(() => inv.snapshot());
} else {
  const inv = new Inventory({}, { edges: false });
  const run = new ShardedRun(n, {
    maxEdges: DEFAULT_SETTINGS.inventory.max_edges,
    dissect: DEFAULT_SETTINGS.dissect,
    inline: inline ? (init) => new DiscoverShard(init, true) : undefined,
    mainShare,
  });
  const r = await run.runFile(file, {
    onPacket: (p) => inv.onPacket(p),
    onMessage: (m) => inv.onAssetMessage(m),
  });
  frames = r.summary.frames;
  const edges = await run.finish();
  timed(() => inv.snapshotWith(edges));
  workerCpu = run.workerCpu;
  workerStart = run.workerStartCpu;
}
const c = process.cpuUsage(c0);
process.stdout.write(
  JSON.stringify({
    wall: Number(process.hrtime.bigint() - t0) / 1e9,
    main: threadCpuSeconds(),
    workers: workerCpu,
    mainStart,
    workerStart,
    readOut,
    frames,
    process: (c.user + c.system) / 1e6,
  }) + '\n',
);
