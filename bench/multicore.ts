// Multi-core discover (issue 18): the same pass on one thread and sharded over worker threads, each in a fresh
// process (bench/multicore-worker.ts), interleaved; wall time, and CPU time per thread, since the machine this
// runs on is shared and wall time alone says more about the neighbours than about Weir.
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { machine, median, root, today, writeSection } from './results.js';
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';
import { ValueRanges } from '../src/discover/values.js';
import { baselineFrom } from '../src/discover/baseline.js';

interface Pass {
  wall: number;
  main: number;
  workers: number[];
  process: number;
  /** CPU seconds of each thread before its work began (loading its modules): a one-off a sensor pays once. */
  mainStart: number;
  workerStart: number[];
}

function pass(workers: number, file: string, baseline?: string): Pass {
  const worker = path.join(root, 'dist/bench/multicore-worker.js');
  const args = [worker, String(workers), file, ...(baseline !== undefined ? [baseline] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`multicore-worker ${workers} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Pass;
}

function cliWall(workers: number, file: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      path.join(root, 'dist/src/cli/main.js'),
      'discover',
      '--json',
      '--workers',
      String(workers),
      file,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (r.status !== 0) throw new Error(`weir discover --workers ${workers} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const f2 = (x: number): string => x.toFixed(2);

/** The baseline the detect passes check against: learned from the whole input, as after a learning period. */
function learnBaseline(file: string): string {
  const inv = new Inventory();
  const values = new ValueRanges();
  const p = new DissectPipeline([inv, values]);
  readCaptureSync(file, (f) => p.push(f));
  const out = path.join(path.dirname(file), 'multicore-baseline.json');
  writeFileSync(
    out,
    JSON.stringify(baselineFrom(inv.snapshot(), values.ranges(), { version: 1, sources: [file] })),
  );
  return out;
}

const walls = (xs: Pass[]): string => xs.map((p) => f2(p.wall)).join(', ');

export function recordMulticore(file: string, runs: number, counts = [1, 2]): string {
  const baseline = learnBaseline(file);
  const passes = new Map<number, Pass[]>(counts.map((n) => [n, []]));
  const detects = new Map<number, Pass[]>(counts.map((n) => [n, []]));
  const cli = new Map<number, number[]>(counts.map((n) => [n, []]));
  const loads: string[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, and the order turned each run, so the machine's noise falls on every variant alike.
    const order = i % 2 === 0 ? counts : [...counts].reverse();
    for (const n of order) passes.get(n)!.push(pass(n, file));
    for (const n of order) detects.get(n)!.push(pass(n, file, baseline));
    for (const n of order) cli.get(n)!.push(cliWall(n, file));
    loads.push(
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join('/'),
    );
    console.log(`run ${i + 1} done; load ${loads.at(-1)}`);
  }
  // On cores of its own, a sharded pass takes as long as its busiest thread: the main thread or a worker.
  const busiest = (p: Pass): number => Math.max(p.main, ...p.workers);
  const busiestRunning = (p: Pass): number =>
    Math.max(p.main - p.mainStart, ...p.workers.map((w, i) => w - p.workerStart[i]!));
  const rowsOf = (kind: string, all: Map<number, Pass[]>, withCli: boolean): string[] => {
    const m = (n: number, pick: (p: Pass) => number): number => median(all.get(n)!.map(pick));
    const one = m(1, (p) => p.wall);
    const oneCpu = m(1, (p) => p.main);
    const oneRunning = m(1, (p) => p.main - p.mainStart);
    return counts.map((n) => {
      const workerCpu =
        n === 1
          ? '–'
          : Array.from({ length: n }, (_, w) => f2(m(n, (p) => p.workers[w]!))).join(' / ');
      const cliCell = withCli ? f2(median(cli.get(n)!)) : '–';
      return `| ${kind} | ${n} | ${f2(m(n, (p) => p.wall))} | ${f2(one / m(n, (p) => p.wall))}× | ${cliCell} | ${f2(m(n, (p) => p.process))} | ${f2(m(n, (p) => p.main))} | ${workerCpu} | ${f2(m(n, busiest))} | **${f2(oneCpu / m(n, busiest))}×** | ${f2(m(n, busiestRunning))} | **${f2(oneRunning / m(n, busiestRunning))}×** |`;
    });
  };
  const section = [
    `## multi-core (${today()})`,
    '',
    `Machine: ${machine()}. **Shared with seven other sessions while measured**: load average (1/5/15 min) after each run: ${loads.join(', ')}. With more runnable threads than the 2 cores, wall times here measure the neighbours as much as Weir; CPU time per thread (from /proc/thread-self) does not, and the last four columns estimate the wall time on idle cores from it (a sharded pass lasts as long as its busiest thread); the last two leave out each thread's start-up (the CPU it used loading its modules before the pass began), which a sensor that keeps running pays once. The integrator should re-run it at a quiet moment (\`BENCH_ONLY=multicore npm run bench\`) for the wall-clock ratio on 2 cores.`,
    '',
    `Input: ${path.basename(file)}, the 1,000,000-frame benchmark input (bench/make-input.ts). A discover pass = read, dissect, discover and the inventory read-out (snapshot); a detect pass = read, dissect and the detection engine against a baseline learned from the same input, as \`weir detect\` runs it; each in a fresh process (bench/multicore-worker.ts). The CLI column is \`weir discover --json --workers N\`, the whole command (start-up and JSON out included). Medians of ${runs} interleaved runs.`,
    '',
    '| pass | workers | pass wall s | wall speed-up | CLI wall s | process CPU s | main thread CPU s | worker thread CPU s | busiest thread s | speed-up on idle cores (est.) | busiest thread s, start-up excluded | speed-up on idle cores, start-up excluded (est.) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    ...rowsOf('discover', passes, true),
    ...rowsOf('detect', detects, false),
    '',
    `Per-run passes (wall s): discover ${counts.map((n) => `${n}: ${walls(passes.get(n)!)}`).join('; ')}; detect ${counts.map((n) => `${n}: ${walls(detects.get(n)!)}`).join('; ')}.`,
    '',
    NOTES,
    '',
  ].join('\n');
  console.log(section);
  writeSection('multi-core', section);
  return section;
}

const NOTES = `How it is split (src/discover/sharded.ts): the main thread reads the capture and shares each 1 MiB chunk with every worker (a SharedArrayBuffer, not a copy per worker). Every worker parses every frame, but dissects only the frames whose unordered IP address pair hashes to it (non-IP frames: worker 0): TCP reassembly, per-pair datagram state, edges and the per-edge detectors stay on one worker. The main thread keeps what spans pairs, in frame order: the asset half of the inventory (the MAC behind an address, gateway recognition, identity facts, admission under max_assets) and the cross-flow detectors (new asset, scans, ARP, DHCP, DCP, GOOSE), fed every frame's header from its own parse of the chunk and, between frames, the few messages they read (identity, mode changes, ARP/DHCP/DCP/GOOSE), which the workers hand back per chunk tagged with their frame; it walks a chunk once every worker has answered for it (workers run up to 8 chunks ahead). Edges are disjoint and merged in the single table's order; detections sort by (time, id). Same-port peers (BACnet 47808↔47808) are oriented by the server ends seen on every pair, which each worker learns from the frames it does not own. Results are byte-identical to one thread (test/discover/sharded.test.ts, test/detect/sharded.test.ts: the plant fixture through the CLI, every capture in ../shared/pcaps, generated inputs; by hand on the 1M-frame input: the same \`discover --json\` bytes and the same 14,442 detections). Bounds (max_edges, TCP streams, reassembly bytes) are split between the workers, so results can differ only where a bound is reached.

What bounds the speed-up: the main thread's share (reading, one header decode per frame, the asset half, the cross-flow detectors with their own per-packet edge lookup, the read-out) and what every worker repeats (parsing every frame's header; in detect, its own baseline copy and profile compiles). On idle cores the wall time is that of the busiest thread, estimated in the last column from per-thread CPU time; on this shared 2-core machine 1 main + 2 worker threads compete with the other sessions' processes, so the measured wall ratio says little. Not yet at the 1.8× target; next steps: decode only the header fields the asset half reads on the main thread, share one compiled baseline, and give the main thread a shard of its own when workers outnumber the spare cores. On exactly 2 cores the estimate does not apply: \`--workers 2\` runs three busy threads (main + 2 workers) plus each isolate's garbage-collector helpers, and the process CPU column shows the sharded pass costs about 1.8× the CPU of one thread (every worker parses every frame header, the main thread decodes every frame too, three isolates start and collect garbage), so on 2 idle cores its wall time is bounded by that total over 2 cores, about the single thread's. The ≥1.8× on 2 cores of issue 18 needs that duplicated work gone (workers that skip foreign frames without parsing them: a per-worker index of frame offsets from the main thread's parse; one decode per frame shared with the main thread), not only a lighter main thread.`;
