// Memory: a plant-sized inventory (100,000 assets, 1,000,000 edges) built through the real pipeline in a fresh
// process (bench/memory-worker.ts), peak RSS against the 1 GiB target (issue 18).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
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
  const r = spawnSync(process.execPath, ['--expose-gc', worker, String(assets), String(edges)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`memory-worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as MemoryRun;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

export function recordMemory(assets = 100_000, edges = 1_000_000): void {
  const rows: [string, MemoryRun][] = [['this build', run(path.join(root, 'dist'), assets, edges)]];
  // BENCH_BEFORE=path/to/an/earlier/dist (with this build's memory-worker.js copied in) measures it alike.
  const before = process.env.BENCH_BEFORE;
  if (before) rows.push(['previous build', run(before, assets, edges)]);
  const ours = rows[0]![1];
  const body = [
    `## memory (${today()})`,
    '',
    `Machine: ${machine()}; shared with other sessions while measured (memory does not depend on that).`,
    '',
    `An inventory of ${assets.toLocaleString('en-US')} assets and ${edges.toLocaleString('en-US')} edges, built from synthetic Ethernet/IPv4/TCP frames through the pipeline: every edge a Modbus/TCP client reading its own register range (so each carries a function, an address range and a polling timer), in a fresh process. "Heap, built" and "RSS, built" are after a full GC with the inventory held; "peak RSS" includes reading it out once as \`weir discover --json\` does (\`readOut()\`: the asset records held with their roles, each edge record built, serialised and dropped).`,
    '',
    '| build | assets | edges | heap, built (MiB) | RSS, built (MiB) | heap after read-out (MiB) | peak RSS (MiB) | build s | read-out s | JSON (MiB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ([name, r]) =>
        `| ${name} | ${r.assets.toLocaleString('en-US')} | ${r.edges.toLocaleString('en-US')} | ${mib(r.heapBuiltBytes)} | ${mib(r.rssBuiltBytes)} | ${mib(r.heapUsedBytes)} | ${mib(r.maxRssBytes)} | ${r.seconds.toFixed(1)} | ${r.readOutSeconds.toFixed(1)} | ${mib(r.jsonBytes)} |`,
    ),
    '',
    `Target (issue 18): within 1 GiB RSS. Peak RSS ${(ours.maxRssBytes / GIB).toFixed(2)} GiB: **${ours.maxRssBytes <= GIB ? 'met' : 'not met'}**; the inventory itself holds ${(ours.heapBuiltBytes / GIB).toFixed(2)} GiB of heap (${Math.round(ours.heapBuiltBytes / ours.edges)} bytes per edge, assets included) and ${(ours.rssBuiltBytes / GIB).toFixed(2)} GiB RSS before it is read out.${Object.keys(ours.capped).length ? ` Capped: ${JSON.stringify(ours.capped)}.` : ''}`,
    '',
  ].join('\n');
  console.log(body);
  writeSection('memory', body);
}
