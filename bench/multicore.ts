// Multi-core discover (issue 18): the same pass on one thread and sharded over worker threads, each in a fresh
// process (bench/multicore-worker.ts), interleaved; wall time, and CPU time per thread, since the machine this
// runs on is shared and wall time alone says more about the neighbours than about Weir.
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { machine, median, root, today, writeSection } from './results.js';
import { launcherFlags } from './launcher-flags.js';
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

/** `dist`: the build measured (this one's, or BENCH_BEFORE's, which must hold bench/multicore-worker.js). */
function pass(
  workers: number,
  file: string,
  baseline?: string,
  dist = path.join(root, 'dist'),
): Pass {
  const worker = path.join(dist, 'bench/multicore-worker.js');
  const args = [
    ...launcherFlags(dist),
    worker,
    String(workers),
    file,
    ...(baseline !== undefined ? [baseline] : []),
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`multicore-worker ${workers} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Pass;
}

/** The whole command through the launcher, as a user runs it. */
function cliWall(workers: number, file: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    path.join(root, 'bin/weir'),
    ['discover', '--json', '--workers', String(workers), file],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WEIR_NODE: process.execPath } },
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

export function recordMulticore(file: string, runs: number, counts = [1, 2]): string {
  const baseline = learnBaseline(file);
  const before = process.env.BENCH_BEFORE;
  const builds: { name: string; dist: string }[] = [
    { name: 'this build', dist: path.join(root, 'dist') },
    ...(before !== undefined ? [{ name: 'previous build', dist: before }] : []),
  ];
  const key = (b: number, n: number): string => `${b}:${n}`;
  const passes = new Map<string, Pass[]>();
  const detects = new Map<string, Pass[]>();
  for (let b = 0; b < builds.length; b++)
    for (const n of counts) {
      passes.set(key(b, n), []);
      detects.set(key(b, n), []);
    }
  const cli = new Map<number, number[]>(counts.map((n) => [n, []]));
  const loads: string[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, and the order turned each run, so the machine's noise falls on every variant alike.
    const order = i % 2 === 0 ? counts : [...counts].reverse();
    const bs = builds.map((_, b) => b);
    if (i % 2 === 1) bs.reverse();
    for (const b of bs)
      for (const n of order) passes.get(key(b, n))!.push(pass(n, file, undefined, builds[b]!.dist));
    for (const b of bs)
      for (const n of order) detects.get(key(b, n))!.push(pass(n, file, baseline, builds[b]!.dist));
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
  const rowsOf = (kind: string, all: Map<string, Pass[]>, withCli: boolean): string[] =>
    builds.flatMap((build, b) => {
      const m = (n: number, pick: (p: Pass) => number): number =>
        median(all.get(key(b, n))!.map(pick));
      const one = m(1, (p) => p.wall);
      const oneCpu = m(1, (p) => p.main);
      const oneProcess = m(1, (p) => p.process);
      return counts.map((n) => {
        const threads = Math.max(...all.get(key(b, n))!.map((p) => p.workers.length));
        const workerCpu =
          threads === 0
            ? '–'
            : Array.from({ length: threads }, (_, w) => f2(m(n, (p) => p.workers[w] ?? 0))).join(
                ' / ',
              );
        const cliCell = withCli && b === 0 ? f2(median(cli.get(n)!)) : '–';
        const proc = m(n, (p) => p.process);
        return `| ${kind} | ${build.name} | ${n} | ${threads} | ${f2(proc)} | **${f2(proc / oneProcess)}×** | ${f2(m(n, (p) => p.main))} | ${workerCpu} | ${f2(m(n, busiest))} | ${f2(oneCpu / m(n, busiest))}× | ${f2(m(n, (p) => p.wall))} | ${f2(one / m(n, (p) => p.wall))}× | ${cliCell} |`;
      });
    });
  // The bench itself keeps up to 3 threads busy; a 1-minute load above that means other work shared the cores.
  const shared = loads.some((l) => Number(l.split('/')[0]) > 3.5);
  const how = shared
    ? '**Shared with other work while measured**'
    : '**Quiet while measured** (nothing but this bench running)';
  const section = [
    `## multi-core (${today()})`,
    '',
    `Machine: ${machine()}. ${how}: load average (1/5/15 min) after each run: ${loads.join(', ')}. With more runnable threads than cores, wall times measure the neighbours as much as Weir, so the figure compared is also CPU time: of the whole process (every thread: main, workers, and V8's garbage-collector and compiler helpers; user + system from the start of the pass) and of each thread (from /proc/thread-self). On exactly 2 idle cores a sharded pass cannot take less wall time than its process CPU over 2, nor less than its busiest thread; **process CPU ÷ one thread's** is the figure to bring to 1.0 (1.8× on 2 cores needs it at about 1.1 with the threads balanced).${shared ? " Re-run it at a quiet moment (\`BENCH_ONLY=multicore npm run bench\`, with \`BENCH_BEFORE=<an earlier dist>\` for the previous build's rows) for the wall-clock ratio." : ' On a quiet machine the wall speed-up column is the measured ratio on these 2 cores.'}`,
    '',
    `Input: ${path.basename(file)}, the 1,000,000-frame benchmark input (bench/make-input.ts). A discover pass = read, dissect, discover and the inventory read-out (snapshot); a detect pass = read, dissect and the detection engine against a baseline learned from the same input, as \`weir detect\` runs it; each in a fresh process (bench/multicore-worker.ts), this build and the previous one interleaved. "shards" is \`--workers N\`; "worker threads" how many threads that starts beside the main thread (this build runs shard 0 on the main thread). The CLI column is \`weir discover --json --workers N\`, the whole command (start-up and JSON out included). Medians of ${runs} interleaved runs.`,
    '',
    "| pass | build | shards | worker threads | process CPU s | process CPU ÷ one thread's | main thread CPU s | worker thread CPU s | busiest thread s | speed-up on idle cores, busiest thread (est.) | pass wall s | wall speed-up | CLI wall s |",
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rowsOf('discover', passes, true),
    ...rowsOf('detect', detects, false),
    '',
    `Per-run process CPU s, this build: discover ${counts.map((n) => `${n}: ${procs(passes.get(key(0, n))!)}`).join('; ')}; detect ${counts.map((n) => `${n}: ${procs(detects.get(key(0, n))!)}`).join('; ')}.`,
    '',
    NOTES,
    '',
  ].join('\n');
  console.log(section);
  writeSection('multi-core', section);
  return section;
}

const procs = (xs: Pass[]): string => xs.map((p) => f2(p.process)).join(', ');

const NOTES = `How it is split (src/discover/sharded.ts, shard-index.ts, shard-core.ts): the main thread reads and parses the capture and routes each frame: its shard from a hash of the unordered IP address pair (frames that are not IP: shard 0), and the server end its packet shows when no earlier frame of the run showed it. Per 1 MiB chunk, the file bytes (read straight into a SharedArrayBuffer, laid out as the parser reads them, and reused once every shard and the main thread are done with the chunk) and per-frame columns (time, frame number, offset, lengths, link type, owner shard, new server end) go to every worker without a copy; a worker dissects only its own frames and skips the others unparsed, reading of them only their time (detection's clock) and the server ends (same-port peers such as BACnet 47808↔47808 are oriented as one table would). TCP reassembly, per-pair datagram state, edges and per-edge detectors stay with the pair's shard. With \`--workers N\`, shard 0 runs on the main thread itself (N − 1 worker threads, so one isolate fewer starting, compiling and collecting garbage), and by default it takes none of the IP address pairs, only the frames that are not IP (any pair it dissected made its isolate optimise the dissectors a second time: 0.15–0.3 CPU s more for 5–20% of the pairs on this input), because the main thread reads, routes and keeps what spans pairs, in frame order: the asset half of the inventory (the MAC behind an address, gateway recognition, identity facts, admission under max_assets) and the cross-flow detectors (new asset, scans, ARP, DHCP, DCP, GOOSE), fed every frame's header and, between frames, the few messages they read, which the shards hand back per chunk tagged with their frame. Those messages (51,189 on this input, mostly BACnet I-Ams and errors) travel slim (no field objects, which the asset half does not read) as columns per chunk (numbers in a Float64Array, strings as indexes into a table each worker sends only the new entries of: src/discover/shard-slim.ts) instead of 23 MB of JSON text. Edges are disjoint and merged in the single table's order; detections sort by (time, id). Results are byte-identical to one thread (test/discover/sharded.test.ts, test/detect/sharded.test.ts: the plant fixture through the CLI, every capture in ../shared/pcaps and generated inputs, with every shard on a worker and with shard 0 on the main thread at its default share, all pairs and none; test/discover/shard-index.test.ts: the chunk columns against the parser at any chunk boundaries). Bounds (max_edges, TCP streams, reassembly bytes) are split evenly between the shards, so results can differ only where a bound is reached.

What is left above one thread's CPU (V8 flags and per-thread CPU, this build): the worker isolate optimises the dissectors that one thread's pass optimises once (V8's concurrent compiler threads: with \`--no-concurrent-recompilation\` a 2-shard pass that still dissected on both threads took 0.4 and 0.27 s more on the main thread and the worker), plus the main thread's own routing, asset half and read-out code, warms up in the interpreter and loads its modules (0.07–0.1 s); the main thread decodes every frame's header for the asset half (about 8% of its CPU), routes every frame and keeps the read-out (0.1–0.15 s). \`--single-threaded-gc\` did not help here (process CPU 2.38 against 2.40 s discover, 2.26 against 2.23 detect, with more on the main and worker threads), so \`bin/weir\` does not pass it. Not done: shards handing the asset half compact header records of their frames (the main thread would still turn addresses and MACs into the same cached text decodeFrame builds, so it saves at most that 8%), and one baseline shared by the detect shards (its structured clone costs 0.03 s to write and 0.05 s to read; profiles compile per edge on first use, and each edge is used by one shard only).`;
