// Multi-core discover and detect (issue 18): the same pass on one thread and sharded over worker threads, each in a
// fresh process (bench/multicore-worker.ts) pinned to 1 or 2 cores, interleaved; throughput from wall time, and CPU
// time per thread, since the machine this runs on may be shared. A second, longer input tells fixed costs
// (start-up, compilation, read-out) from per-frame ones.
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { machine, median, root, today, writeSection } from './results.js';
import { launcherEnv, launcherFlags } from './launcher-flags.js';
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
  /** Main-thread CPU seconds of the inventory read-out (discover passes; absent from older builds). */
  readOut?: number;
  /** Frames read (absent from older builds). */
  frames?: number;
}

/**
 * What a pass runs on: `cores` is the CPU list it is pinned to (`taskset -c`), so one thread on one core has
 * its V8 helper threads (garbage collection, optimising compiler) share that core, as they would on a
 * single-core sensor; `shards` is `--workers N`. On this 2-core machine "0,1" is every core.
 */
interface Variant {
  cores: string;
  shards: number;
}

const VARIANTS: Variant[] = [
  { cores: '0', shards: 1 },
  { cores: '0,1', shards: 1 },
  { cores: '0,1', shards: 2 },
];

const coreCount = (v: Variant): number => v.cores.split(',').length;
const label = (v: Variant): string => `${coreCount(v)}:${v.shards}`;

/** `dist`: the build measured (this one's, or BENCH_BEFORE's, which must hold bench/multicore-worker.js). */
function pass(v: Variant, file: string, baseline?: string, dist = path.join(root, 'dist')): Pass {
  const worker = path.join(dist, 'bench/multicore-worker.js');
  const args = [
    '-c',
    v.cores,
    process.execPath,
    // As `weir detect` starts when a baseline is given, else as `weir discover`.
    ...launcherFlags(dist, baseline !== undefined ? 'detect' : 'discover'),
    worker,
    String(v.shards),
    file,
    ...(baseline !== undefined ? [baseline] : []),
  ];
  const r = spawnSync('taskset', args, {
    encoding: 'utf8',
    env: launcherEnv(dist, baseline !== undefined ? 'detect' : 'discover'),
  });
  if (r.error)
    throw new Error(`taskset (util-linux) is needed to pin passes to cores: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`multicore-worker ${v.shards} on ${v.cores} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Pass;
}

/** The whole command through the launcher, as a user runs it (every core). */
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
  const base = path.basename(file, '.pcap');
  // The 1,000,000-frame input's keeps the name earlier runs gave it.
  const name =
    base === 'ics-1000000' ? 'multicore-baseline.json' : `${base}-multicore-baseline.json`;
  const out = path.join(path.dirname(file), name);
  writeFileSync(
    out,
    JSON.stringify(baselineFrom(inv.snapshot(), values.ranges(), { version: 1, sources: [file] })),
  );
  return out;
}

interface Build {
  name: string;
  dist: string;
}

/** Every pass of one input: per build, variant and kind (discover, detect), in run order. */
interface Measured {
  file: string;
  frames: number;
  runs: number;
  loads: string[];
  /** key(kind, build, variant) → passes */
  passes: Map<string, Pass[]>;
  cli: Map<number, number[]>;
}

const KINDS = ['discover', 'detect'] as const;
type Kind = (typeof KINDS)[number];
const key = (kind: Kind, b: number, v: Variant): string => `${kind}:${b}:${label(v)}`;

function measure(file: string, runs: number, builds: Build[], withCli: boolean): Measured {
  const baseline = learnBaseline(file);
  const passes = new Map<string, Pass[]>();
  for (const kind of KINDS)
    for (let b = 0; b < builds.length; b++)
      for (const v of VARIANTS) passes.set(key(kind, b, v), []);
  const cli = new Map<number, number[]>([1, 2].map((n) => [n, []]));
  const loads: string[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, and the order turned each run, so the machine's noise falls on every variant alike.
    const order = i % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    const bs = builds.map((_, b) => b);
    if (i % 2 === 1) bs.reverse();
    for (const kind of KINDS)
      for (const b of bs)
        for (const v of order)
          passes
            .get(key(kind, b, v))!
            .push(pass(v, file, kind === 'detect' ? baseline : undefined, builds[b]!.dist));
    if (withCli) for (const n of i % 2 === 0 ? [1, 2] : [2, 1]) cli.get(n)!.push(cliWall(n, file));
    loads.push(
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join('/'),
    );
    console.log(`${path.basename(file)}: run ${i + 1} done; load ${loads.at(-1)}`);
  }
  // Frames read, as this build's passes count them.
  const frames = passes.get(key('discover', 0, ONE_CORE))![0]!.frames ?? 0;
  return { file, frames, runs, loads, passes, cli };
}

// On cores of its own, a sharded pass takes as long as its busiest thread: the main thread or a worker.
const busiest = (p: Pass): number => Math.max(p.main, ...p.workers);
const med = (xs: Pass[], pick: (p: Pass) => number): number => median(xs.map(pick));

/** The medians one row of the tables reads. */
function stats(
  m: Measured,
  kind: Kind,
  b: number,
  v: Variant,
): { wall: number; proc: number; main: number; workers: number[]; busiest: number } {
  const xs = m.passes.get(key(kind, b, v))!;
  const threads = Math.max(...xs.map((p) => p.workers.length));
  return {
    wall: med(xs, (p) => p.wall),
    proc: med(xs, (p) => p.process),
    main: med(xs, (p) => p.main),
    workers: Array.from({ length: threads }, (_, w) => med(xs, (p) => p.workers[w] ?? 0)),
    busiest: med(xs, busiest),
  };
}

const ONE_CORE = VARIANTS[0]!,
  TWO_CORES = VARIANTS[1]!,
  SHARDED = VARIANTS[2]!;

function table(m: Measured, builds: Build[]): string[] {
  const rows: string[] = [];
  for (const kind of KINDS)
    builds.forEach((build, b) => {
      const base1 = stats(m, kind, b, ONE_CORE),
        base2 = stats(m, kind, b, TWO_CORES);
      for (const v of VARIANTS) {
        const s = stats(m, kind, b, v);
        const workerCpu = s.workers.length === 0 ? '–' : s.workers.map(f2).join(' / ');
        const rate = Math.round(m.frames / s.wall).toLocaleString('en-US');
        rows.push(
          `| ${kind} | ${build.name} | ${coreCount(v)} (\`taskset -c ${v.cores}\`) | ${v.shards} | ${f2(s.wall)} | ${rate} | **${f2(base1.wall / s.wall)}×** | **${f2(base2.wall / s.wall)}×** | ${f2(s.proc)} | ${f2(s.proc / base2.proc)}× | ${f2(s.main)} | ${workerCpu} | ${f2(s.busiest)} |`,
        );
      }
    });
  return [
    "| pass | build | cores | shards (`--workers`) | pass wall s | frames per wall second | throughput ÷ one thread on 1 core | throughput ÷ one thread on 2 cores | process CPU s | process CPU ÷ one thread's (2 cores) | main thread CPU s | worker thread CPU s | busiest thread s |",
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    ...rows,
  ];
}

/**
 * Fixed and per-frame costs from the two inputs' medians: per frame = the difference over the difference in
 * frames, fixed = what is left at the short input (worker start-up, each isolate's module loading and
 * compilation, the read-out's share that does not grow with frames).
 */
function costs(short: Measured, long: Measured, builds: Build[]): string[] {
  const df = long.frames - short.frames;
  const rows: string[] = [];
  for (const kind of KINDS)
    builds.forEach((build, b) => {
      const per = (v: Variant, pick: 'wall' | 'proc'): [number, number] => {
        const a = stats(short, kind, b, v)[pick],
          z = stats(long, kind, b, v)[pick];
        const perFrame = (z - a) / df;
        return [a - perFrame * short.frames, perFrame * 1e6];
      };
      const [w1Fixed, w1Per] = per(ONE_CORE, 'wall');
      const [w2Fixed, w2Per] = per(TWO_CORES, 'wall');
      for (const v of VARIANTS) {
        const [wf, wp] = per(v, 'wall');
        const [pf, pp] = per(v, 'proc');
        rows.push(
          `| ${kind} | ${build.name} | ${coreCount(v)} | ${v.shards} | ${f2(wf)} | ${f2(wp)} | **${f2(w1Per / wp)}×** | **${f2(w2Per / wp)}×** | ${f2(pf)} | ${f2(pp)} |`,
        );
      }
      void w1Fixed;
      void w2Fixed;
    });
  return [
    `Fixed and per-frame costs, from the medians of the two inputs (${short.frames.toLocaleString('en-US')} and ${long.frames.toLocaleString('en-US')} frames): per-frame = difference ÷ difference in frames (seconds per million frames), fixed = what is left at ${short.frames.toLocaleString('en-US')} frames. "Per-frame throughput ÷" is the scaling a long capture or a live sensor tends to, with the fixed costs paid once.`,
    '',
    '| pass | build | cores | shards | fixed wall s | wall s per million frames | per-frame throughput ÷ one thread on 1 core | per-frame throughput ÷ one thread on 2 cores | fixed process CPU s | process CPU s per million frames |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ];
}

/** The two ratios in words, this build. */
function headline(m: Measured): string {
  const r = (kind: Kind): string => {
    const one = stats(m, kind, 0, ONE_CORE),
      two = stats(m, kind, 0, TWO_CORES),
      sh = stats(m, kind, 0, SHARDED);
    return `${kind} **${f2(one.wall / sh.wall)}×** (against one thread on 2 cores: ${f2(two.wall / sh.wall)}×)`;
  };
  return `\`--workers 2\` on 2 cores against one thread on 1 core (the scaling figure, throughput from pass wall time), ${path.basename(m.file)}: ${r('discover')}; ${r('detect')}.`;
}

/** `long`: a longer input, to tell fixed costs from per-frame ones. */
export function recordMulticore(
  file: string,
  runs: number,
  long?: { file: string; runs: number },
): string {
  const before = process.env.BENCH_BEFORE;
  const builds: Build[] = [
    { name: 'this build', dist: path.join(root, 'dist') },
    ...(before !== undefined ? [{ name: 'previous build', dist: before }] : []),
  ];
  const short = measure(file, runs, builds, true);
  const longM = long !== undefined ? measure(long.file, long.runs, builds, false) : null;
  const loads = [...short.loads, ...(longM?.loads ?? [])];
  // The bench itself keeps up to 3 threads busy; a 1-minute load above that means other work shared the cores.
  const shared = loads.some((l) => Number(l.split('/')[0]) > 3.5);
  const how = shared
    ? '**Shared with other work while measured**'
    : '**Quiet while measured** (nothing but this bench running)';
  const inputs = [short, ...(longM ? [longM] : [])];
  const section = [
    `## multi-core (${today()})`,
    '',
    `Machine: ${machine()}. ${how}: load average (1/5/15 min) after each run: ${loads.join(', ')}.${shared ? ' Wall times then measure the neighbours as much as Weir (the pinned passes share their cores with other processes); the CPU columns compare, and a quiet re-run (`BENCH_ONLY=multicore npm run bench`, `BENCH_BEFORE=<an earlier dist>` for the previous build) gives the wall-clock ratios.' : ''}`,
    '',
    `Scaling as issue 18 defines it: throughput on N cores against throughput on 1 core. Each pass runs in a fresh process pinned with \`taskset\`: **1 core** (\`taskset -c 0\`: one thread, its V8 helper threads for garbage collection and optimising compilation sharing that core, as on a one-core sensor) and **2 cores** (\`taskset -c 0,1\`, every core of this machine) with \`--workers 1\` and \`--workers 2\`. "Throughput ÷ one thread on 1 core" of \`--workers 2\` is the scaling figure (1.8× the target); "÷ one thread on 2 cores" is what a user of this 2-core machine gains from \`--workers 2\`, where one thread's helper threads already use the second core. Process CPU is every thread's (main, workers, V8's helpers), user + system, from the start of the pass; thread CPU from /proc/thread-self.`,
    '',
    `Inputs: ${inputs.map((m) => `${path.basename(m.file)} (${m.frames.toLocaleString('en-US')} frames, bench/make-input.ts; medians of ${m.runs} interleaved runs)`).join(' and ')}. A discover pass = read, dissect, discover and the inventory read-out (snapshot); a detect pass = read, dissect and the detection engine against a baseline learned from the same input, as \`weir detect\` runs it; each in a fresh process (bench/multicore-worker.ts, the launcher's V8 flags), this build and the previous one interleaved. With \`--workers 2\` shard 0 runs on the main thread (one worker thread beside it).`,
    '',
    ...inputs.flatMap((m) => [headline(m), '']),
    ...inputs.flatMap((m) => [
      `${path.basename(m.file)}:`,
      '',
      ...table(m, builds),
      '',
      `Per-run pass wall s, this build, discover: ${VARIANTS.map((v) => `${coreCount(v)} core(s) ${v.shards} shard(s) ${walls(m.passes.get(key('discover', 0, v))!)}`).join('; ')}.`,
      '',
    ]),
    `CLI wall s (\`weir discover --json --workers N\` through \`bin/weir\`, the whole command, every core), ${path.basename(file)}: --workers 1 ${f2(median(short.cli.get(1)!))}, --workers 2 ${f2(median(short.cli.get(2)!))}.`,
    '',
    ...(longM ? [...costs(short, longM, builds), ''] : []),
    NOTES,
    '',
  ].join('\n');
  console.log(section);
  writeSection('multi-core', section);
  return section;
}

const walls = (xs: Pass[]): string => xs.map((p) => f2(p.wall)).join(', ');

const NOTES = `How it is split (src/discover/sharded.ts, shard-index.ts, shard-core.ts): the main thread reads and parses the capture and routes each frame: its shard from a hash of the unordered IP address pair (frames that are not IP: shard 0), and the server end its packet shows when no earlier frame of the run showed it. Per 1 MiB chunk, the file bytes (read straight into a SharedArrayBuffer, laid out as the parser reads them, and reused once every shard and the main thread are done with the chunk) and per-frame columns (time, frame number, offset, lengths, link type, owner shard, new server end) go to every worker without a copy; a worker dissects only its own frames and skips the others unparsed, reading of them only their time (detection's clock) and the server ends (same-port peers such as BACnet 47808↔47808 are oriented as one table would). TCP reassembly, per-pair datagram state, edges and per-edge detectors stay with the pair's shard. With \`--workers N\`, shard 0 runs on the main thread itself (N − 1 worker threads, so one isolate fewer starting, compiling and collecting garbage), and by default it takes none of the IP address pairs, only the frames that are not IP (any pair it dissected made its isolate optimise the dissectors a second time: 0.15–0.3 CPU s more for 5–20% of the pairs on this input), because the main thread reads, routes and keeps what spans pairs, in frame order: the asset half of the inventory (the MAC behind an address, gateway recognition, identity facts, admission under max_assets) and the cross-flow detectors (new asset, scans, ARP, DHCP, DCP, GOOSE), fed every frame's header and, between frames, the few messages they read, which the shards hand back per chunk tagged with their frame. Those messages (51,189 on this input, mostly BACnet I-Ams and errors) travel slim (no field objects, which the asset half does not read) as columns per chunk (numbers in a Float64Array, strings as indexes into a table each worker sends only the new entries of: src/discover/shard-slim.ts) instead of 23 MB of JSON text. Edges are disjoint and merged in the single table's order; detections sort by (time, id). Results are byte-identical to one thread (test/discover/sharded.test.ts, test/detect/sharded.test.ts: the plant fixture through the CLI, every capture in ../shared/pcaps and generated inputs, with every shard on a worker and with shard 0 on the main thread at its default share, all pairs and none; test/discover/shard-index.test.ts: the chunk columns against the parser at any chunk boundaries). Bounds (max_edges, TCP streams, reassembly bytes) are split evenly between the shards, so results can differ only where a bound is reached.

What is left above one thread's CPU (V8 flags and per-thread CPU, this build): the worker isolate optimises the dissectors that one thread's pass optimises once (V8's concurrent compiler threads: with \`--no-concurrent-recompilation\` a 2-shard pass that still dissected on both threads took 0.4 and 0.27 s more on the main thread and the worker), plus the main thread's own routing, asset half and read-out code, warms up in the interpreter and loads its modules (0.07–0.1 s); the main thread decodes every frame's header for the asset half (about 8% of its CPU), routes every frame and keeps the read-out (0.1–0.15 s). \`--single-threaded-gc\` did not help here (process CPU 2.38 against 2.40 s discover, 2.26 against 2.23 detect, with more on the main and worker threads), so \`bin/weir\` does not pass it. Not done: shards handing the asset half compact header records of their frames (the main thread would still turn addresses and MACs into the same cached text decodeFrame builds, so it saves at most that 8%), and one baseline shared by the detect shards (its structured clone costs 0.03 s to write and 0.05 s to read; profiles compile per edge on first use, and each edge is used by one shard only).`;
