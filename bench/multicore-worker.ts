// One timed discover pass in a fresh process, on one thread or sharded over worker threads (bench/multicore.ts).
// Prints JSON: wall seconds, CPU seconds of the main thread, of each worker thread, and of the whole process.
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';
import { ShardedRun } from '../src/discover/sharded.js';
import { threadCpuSeconds } from '../src/discover/shard.js';
import { DEFAULT_SETTINGS } from '../src/settings/model.js';

const [n, file] = [Number(process.argv[2]), process.argv[3]];
if (!file || !(n >= 1)) throw new Error('usage: multicore-worker WORKERS FILE');
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
let workerCpu: number[] = [];
if (n === 1) {
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  readCaptureSync(file, (f) => p.push(f));
  inv.snapshot();
} else {
  const inv = new Inventory({}, { edges: false });
  const run = new ShardedRun(n, {
    maxEdges: DEFAULT_SETTINGS.inventory.max_edges,
    dissect: DEFAULT_SETTINGS.dissect,
  });
  await run.runFile(file, {
    onPacket: (p) => inv.onPacket(p),
    onMessage: (m) => inv.onAssetMessage(m),
  });
  const edges = await run.finish();
  inv.snapshotWith(edges);
  workerCpu = run.workerCpu;
}
const c = process.cpuUsage(c0);
process.stdout.write(
  JSON.stringify({
    wall: Number(process.hrtime.bigint() - t0) / 1e9,
    main: threadCpuSeconds(),
    workers: workerCpu,
    process: (c.user + c.system) / 1e6,
  }) + '\n',
);
