// Multi-core discover (issue 18): the same pass on one thread and sharded over worker threads, each in a fresh
// process (bench/multicore-worker.ts), interleaved; wall time, and CPU time per thread, since the machine this
// runs on is shared and wall time alone says more about the neighbours than about Weir.
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { machine, median, root, today, writeSection } from './results.js';

interface Pass {
  wall: number;
  main: number;
  workers: number[];
  process: number;
}

function pass(workers: number, file: string): Pass {
  const worker = path.join(root, 'dist/bench/multicore-worker.js');
  const r = spawnSync(process.execPath, [worker, String(workers), file], { encoding: 'utf8' });
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

export function recordMulticore(file: string, runs: number, counts = [1, 2]): string {
  const passes = new Map<number, Pass[]>(counts.map((n) => [n, []]));
  const cli = new Map<number, number[]>(counts.map((n) => [n, []]));
  const loads: string[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved, and the order turned each run, so the machine's noise falls on every variant alike.
    const order = i % 2 === 0 ? counts : [...counts].reverse();
    for (const n of order) passes.get(n)!.push(pass(n, file));
    for (const n of order) cli.get(n)!.push(cliWall(n, file));
    loads.push(
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join('/'),
    );
    console.log(
      `run ${i + 1}: ${order.map((n) => `${n} worker(s) ${f2(passes.get(n)!.at(-1)!.wall)} s`).join(', ')}; load ${loads.at(-1)}`,
    );
  }
  const m = (n: number, pick: (p: Pass) => number): number => median(passes.get(n)!.map(pick));
  // On cores of its own, a sharded pass takes as long as its busiest thread: the main thread or a worker.
  const busiest = (p: Pass): number => Math.max(p.main, ...p.workers);
  const one = m(1, (p) => p.wall);
  const oneCpu = m(1, (p) => p.main);
  const rows = counts.map((n) => {
    const workerCpu =
      n === 1
        ? '–'
        : Array.from({ length: n }, (_, w) => f2(m(n, (p) => p.workers[w]!))).join(' / ');
    return `| ${n} | ${f2(m(n, (p) => p.wall))} | ${f2(one / m(n, (p) => p.wall))}× | ${f2(median(cli.get(n)!))} | ${f2(m(n, (p) => p.process))} | ${f2(m(n, (p) => p.main))} | ${workerCpu} | ${f2(m(n, busiest))} | ${f2(oneCpu / m(n, busiest))}× |`;
  });
  const section = [
    `## multi-core (${today()})`,
    '',
    `Machine: ${machine()}. **Shared with seven other sessions while measured**: load average (1/5/15 min) after each run: ${loads.join(', ')}. With more runnable threads than the 2 cores, wall times here measure the neighbours as much as Weir; CPU time per thread (from /proc/thread-self) does not, and the last two columns estimate the wall time on idle cores from it (a sharded pass lasts as long as its busiest thread).`,
    '',
    `Input: ${path.basename(file)}, the 1,000,000-frame benchmark input (bench/make-input.ts). One pass = read, dissect, discover and the inventory read-out (snapshot), in a fresh process (bench/multicore-worker.ts); \`weir discover --json --workers N\` is the whole command (start-up and JSON out included). Medians of ${runs} interleaved runs.`,
    '',
    '| workers | pass wall s | wall speed-up | CLI wall s | process CPU s | main thread CPU s | worker thread CPU s | busiest thread s | speed-up on idle cores (est.) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows,
    '',
    'Per-run passes (wall s): ' +
      counts
        .map(
          (n) =>
            `${n}: ${passes
              .get(n)!
              .map((p) => f2(p.wall))
              .join(', ')}`,
        )
        .join('; ') +
      '.',
    '',
  ].join('\n');
  console.log(section);
  writeSection('multi-core', section);
  return section;
}
