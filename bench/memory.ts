// Memory: a plant-sized inventory (100,000 assets, 1,000,000 edges) built through the real pipeline in a fresh
// process (bench/memory-worker.ts), peak RSS against the 1 GiB target (issue 18).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { launcherEnv, launcherFlags } from './launcher-flags.js';
import { machine, root, today, writeSection } from './results.js';

interface MemoryRun {
  frames: number;
  assets: number;
  edges: number;
  capped: Record<string, number>;
  maxRssBytes: number;
  heapUsedBytes: number;
  heapBuiltBytes: number;
  rssBuiltBytes: number;
  seconds: number;
  readOutSeconds: number;
  jsonBytes: number;
}

const GIB = 2 ** 30;

function run(dist: string, assets: number, edges: number): MemoryRun {
  const worker = path.join(dist, 'bench/memory-worker.js');
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', ...launcherFlags(dist), worker, String(assets), String(edges)],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      env: launcherEnv(dist),
    },
  );
  if (r.status !== 0) throw new Error(`memory-worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as MemoryRun;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

/** The run of median peak RSS, and the lowest and highest peak RSS of all runs. */
function median(runs: MemoryRun[]): { run: MemoryRun; low: number; high: number } {
  const sorted = [...runs].sort((a, b) => a.maxRssBytes - b.maxRssBytes);
  return {
    run: sorted[(sorted.length - 1) >> 1]!,
    low: sorted[0]!.maxRssBytes,
    high: sorted.at(-1)!.maxRssBytes,
  };
}

export function recordMemory(assets = 100_000, edges = 1_000_000): void {
  // Peak RSS depends on when V8's collector runs (the dissector's TCP half-streams, a new one per frame here, are
  // garbage that piles up between full collections), so several fresh processes, interleaved with the previous
  // build's: BENCH_MEMORY_RUNS (default 3).
  const n = Math.max(1, Number(process.env.BENCH_MEMORY_RUNS ?? 3));
  // BENCH_BEFORE=path/to/an/earlier/dist (with this build's memory-worker.js copied in) measures it alike.
  const before = process.env.BENCH_BEFORE;
  const mine: MemoryRun[] = [],
    theirs: MemoryRun[] = [];
  for (let i = 0; i < n; i++) {
    mine.push(run(path.join(root, 'dist'), assets, edges));
    if (before) theirs.push(run(before, assets, edges));
  }
  const rows: [string, ReturnType<typeof median>][] = [['this build', median(mine)]];
  if (before) rows.push(['previous build', median(theirs)]);
  const ours = rows[0]![1].run;
  const body = [
    `## memory (${today()})`,
    '',
    `Machine: ${machine()}. Each build runs with the Node flags its own launcher (bin/weir) gives packet-reading commands (this build: \`${launcherFlags(path.join(root, 'dist')).join(' ') || 'none'}\`${before ? `; previous build: \`${launcherFlags(before).join(' ') || 'none'}\`` : ''}), as \`weir discover\` runs; peak RSS depends on when V8's full collections run, hence several processes.`,
    '',
    `Median of ${n} fresh process${n === 1 ? '' : 'es'} per build (the run of median peak RSS; peak RSS range over all runs), builds interleaved. An inventory of ${assets.toLocaleString('en-US')} assets and ${edges.toLocaleString('en-US')} edges, built from synthetic Ethernet/IPv4/TCP frames through the pipeline: every edge a Modbus/TCP client reading its own register range (so each carries a function, an address range and a polling timer), in a fresh process. "Heap, built" and "RSS, built" are after a full GC with the inventory held; "peak RSS" includes reading it out once as \`weir discover --json\` does (\`readOut()\`: the asset records held with their roles, each edge record built, serialised and dropped).`,
    '',
    '| build | assets | edges | heap, built (MiB) | RSS, built (MiB) | heap after read-out (MiB) | peak RSS (MiB) | peak RSS range (MiB) | build s | read-out s | JSON (MiB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ([name, { run: r, low, high }]) =>
        `| ${name} | ${r.assets.toLocaleString('en-US')} | ${r.edges.toLocaleString('en-US')} | ${mib(r.heapBuiltBytes)} | ${mib(r.rssBuiltBytes)} | ${mib(r.heapUsedBytes)} | ${mib(r.maxRssBytes)} | ${mib(low)}–${mib(high)} | ${r.seconds.toFixed(1)} | ${r.readOutSeconds.toFixed(1)} | ${mib(r.jsonBytes)} |`,
    ),
    '',
    `Target (issue 18): within 1 GiB RSS. Peak RSS ${(ours.maxRssBytes / GIB).toFixed(2)} GiB (median; highest ${(rows[0]![1].high / GIB).toFixed(2)}): **${rows[0]![1].high <= GIB ? 'met' : ours.maxRssBytes <= GIB ? 'met in the median, not in every run' : 'not met'}**; the inventory itself holds ${(ours.heapBuiltBytes / GIB).toFixed(2)} GiB of heap (${Math.round(ours.heapBuiltBytes / ours.edges)} bytes per edge, assets included) and ${(ours.rssBuiltBytes / GIB).toFixed(2)} GiB RSS before it is read out.${Object.keys(ours.capped).length ? ` Capped: ${JSON.stringify(ours.capped)}.` : ''}`,
    '',
  ].join('\n');
  console.log(body);
  writeSection('memory', body);
}
