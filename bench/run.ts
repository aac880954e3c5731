// `npm run bench`: Weir against its peers on the same inputs in one run; results go to bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeBenchInput } from './make-input.js';
import { recordMulticore } from './multicore.js';
import { recordDetection } from './detect.js';
import { recordItiQuality } from './iti-quality.js';
import { recordPolicySimulation } from './policy.js';
import { recordGateway } from './gateway.js';
import { recordDashboard } from './dashboard.js';
import { recordFailOpen } from './fail-open.js';
import { recordIncidents } from './incidents.js';
import { recordAdvisories } from './advisories.js';
import { recordExport } from './export.js';
import { recordPlaybookLatency } from './playbook.js';
import { recordDecoyLatency } from './decoy.js';
import { recordMemory } from './memory.js';
import { recordLiveRate } from './live-rate.js';
import { recordFleet } from './fleet.js';
import { recordFleetFlood } from './fleet-flood.js';
import { recordSitePages } from './site-pages.js';
import { labPolicyStore } from '../test/enforce/lab-kit.js';
import { machine, median, root, sharedPcaps, writeSection } from './results.js';
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';

const shared = sharedPcaps;
const work = path.join(os.tmpdir(), 'weir-bench');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 1_000_000);

/** CPU seconds (user + system) used by this process's waited-for children so far (Linux /proc, 1/100 s ticks). */
function childCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, so cutime and cstime (fields 16, 17) sit at 13 and 14.
  return (Number(f[13]) + Number(f[14])) / 100;
}

/** One whole command: CPU seconds (user + system) of the child, which is what compares on a shared machine. */
function timeCommand(cmd: string, args: string[]): number {
  const c0 = childCpu();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return childCpu() - c0;
}

/** Pipeline and inventory only, in this process: the per-core rate (CPU seconds) without process start-up. */
function inProcess(file: string): { seconds: number; frames: number } {
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  const c0 = process.cpuUsage();
  const summary = readCaptureSync(file, (f) => p.push(f));
  inv.snapshot();
  const c = process.cpuUsage(c0);
  return { seconds: (c.user + c.system) / 1e6, frames: summary.frames };
}

/**
 * The multi-core section's longer input (fixed against per-frame costs): BENCH_MC_LONG names it (made there
 * with BENCH_MC_LONG_FRAMES frames, default 5,000,000, when missing; "0": none), default in the bench's work
 * folder; BENCH_MC_LONG_RUNS runs (default 5).
 */
async function multicoreLong(
  sources: string[],
): Promise<{ file: string; runs: number } | undefined> {
  const named = process.env.BENCH_MC_LONG;
  if (named === '0') return undefined;
  const frames = Number(process.env.BENCH_MC_LONG_FRAMES ?? 5_000_000);
  const file = named ?? path.join(work, `ics-${frames}.pcap`);
  if (!existsSync(file)) await makeBenchInput(sources, frames, file);
  return { file, runs: Number(process.env.BENCH_MC_LONG_RUNS ?? 5) };
}

async function main(): Promise<void> {
  // BENCH_ONLY=advisories needs the CSAF corpus, not the packet input: measured before that is built.
  if (process.env.BENCH_ONLY === 'advisories') {
    await recordAdvisories(Math.min(RUNS, 3));
    return;
  }
  // The playbook latency runs in the lab and reads no shared capture: it needs no input file.
  if (process.env.BENCH_ONLY === 'decoy') {
    await recordDecoyLatency(Number(process.env.BENCH_TRIALS ?? 40));
    return;
  }
  if (process.env.BENCH_ONLY === 'playbook') {
    await recordPlaybookLatency(Number(process.env.BENCH_TRIALS ?? 60), labPolicyStore);
    return;
  }
  // BENCH_ONLY=fleet: real nats-servers and nftables in namespaces; no capture needed.
  if (process.env.BENCH_ONLY === 'fleet') {
    await recordFleet(Number(process.env.BENCH_TRIALS ?? 40));
    // A site or manager connection left reconnecting to a stopped server must not keep the bench running.
    process.exit(0);
  }
  // BENCH_ONLY=fleet-flood: 100 sites and a flooding one on a real hub (BENCH_BEFORE: an earlier dist beside).
  if (process.env.BENCH_ONLY === 'fleet-flood') {
    await recordFleetFlood();
    process.exit(0);
  }
  // BENCH_ONLY=site-pages: the manager's site pages over a synthetic manager.db.
  if (process.env.BENCH_ONLY === 'site-pages') {
    await recordSitePages(Math.min(RUNS, 5));
    return;
  }
  // BENCH_ONLY=memory builds its own synthetic plant: no capture needed.
  if (process.env.BENCH_ONLY === 'memory') {
    recordMemory();
    return;
  }
  if (!existsSync(shared)) throw new Error(`bench needs the real captures in ${shared}`);
  // BENCH_ONLY=iti: detection quality on the ITI captures (counts, no timing, no big input needed).
  if (process.env.BENCH_ONLY === 'iti') {
    recordItiQuality();
    return;
  }
  // BENCH_ONLY=export needs no synthetic input: it reads the lab fixture and the public captures directly.
  if (process.env.BENCH_ONLY === 'export') {
    await recordExport(RUNS);
    return;
  }
  mkdirSync(work, { recursive: true });
  const big = path.join(work, `ics-${FRAMES}.pcap`);
  const sources = [
    'icsnpp/modbus_example.pcap',
    'icsnpp/s7comm_snap7.pcap',
    'icsnpp/s7comm_plus.pcap',
    'icsnpp/dnp3_example.pcap',
    'icsnpp/enip_cip_example.pcap',
    'icsnpp/bacnet_example.pcap',
    'icsnpp/bacnet_services.pcap',
    'ics-pcap/s7_1200_hmi_timer_sync.pcapng',
  ].map((f) => path.join(shared, f));
  const made = await makeBenchInput(sources, FRAMES, big);
  const mib = statSync(big).size / 2 ** 20;
  console.log(`input: ${made.frames} frames (${made.reps} repetitions), ${mib.toFixed(1)} MiB`);

  // BENCH_ONLY=detection re-measures just the detection section (it is the noisier one).
  if (process.env.BENCH_ONLY === 'detection') {
    recordDetection(big, RUNS);
    return;
  }
  if (process.env.BENCH_ONLY === 'multicore') {
    recordMulticore(big, RUNS, await multicoreLong(sources));
    return;
  }
  if (process.env.BENCH_ONLY === 'live') {
    await recordLiveRate(big);
    return;
  }
  if (process.env.BENCH_ONLY === 'policy') {
    recordPolicySimulation(big, RUNS);
    return;
  }
  if (process.env.BENCH_ONLY === 'gateway') {
    await recordGateway(RUNS);
    return;
  }
  if (process.env.BENCH_ONLY === 'dashboard') {
    await recordDashboard(RUNS);
    return;
  }
  if (process.env.BENCH_ONLY === 'fail-open') {
    await recordFailOpen(Math.max(RUNS, 9), labPolicyStore);
    return;
  }
  if (process.env.BENCH_ONLY === 'incidents') {
    recordIncidents();
    return;
  }
  const cli = path.join(root, 'dist/src/cli/main.js');
  // BENCH_BEFORE=path/to/an/earlier/dist: that build's `weir discover` interleaved with this one's.
  const beforeDist = process.env.BENCH_BEFORE;
  const weirCli: number[] = [],
    weirBefore: number[] = [],
    tshark: number[] = [],
    tsharkPhs: number[] = [],
    weirIn: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleave the tools so machine noise hits both alike.
    weirCli.push(timeCommand(process.execPath, [cli, 'discover', big, '--json']));
    if (beforeDist)
      weirBefore.push(
        timeCommand(process.execPath, [
          path.join(beforeDist, 'src/cli/main.js'),
          'discover',
          big,
          '--json',
        ]),
      );
    tshark.push(timeCommand('tshark', ['-r', big, '-q']));
    // -z io,phs makes tshark dissect every layer of every frame, as Weir does.
    tsharkPhs.push(timeCommand('tshark', ['-r', big, '-q', '-z', 'io,phs']));
    weirIn.push(inProcess(big).seconds);
    console.log(
      `run ${i + 1}: weir discover ${weirCli.at(-1)!.toFixed(2)} CPU s${beforeDist ? ` (previous build ${weirBefore.at(-1)!.toFixed(2)})` : ''}, tshark -q ${tshark.at(-1)!.toFixed(2)} CPU s, in-process ${weirIn.at(-1)!.toFixed(2)} CPU s`,
    );
  }
  const rate = (s: number) => Math.round(made.frames / s);
  const rows: Array<[string, number, number]> = [
    ['weir discover (CLI, whole command, JSON out)', median(weirCli), rate(median(weirCli))],
    ...(beforeDist
      ? ([
          [
            'weir discover, previous build (CLI, whole command)',
            median(weirBefore),
            rate(median(weirBefore)),
          ],
        ] as Array<[string, number, number]>)
      : []),
    ['weir pipeline + inventory (in-process, one core)', median(weirIn), rate(median(weirIn))],
    ['tshark -r FILE -q', median(tshark), rate(median(tshark))],
    ['tshark -r FILE -q -z io,phs (full dissection)', median(tsharkPhs), rate(median(tsharkPhs))],
  ];
  const table = [
    '| tool | median CPU s | packets per CPU-second |',
    '| --- | ---: | ---: |',
    ...rows.map(([n, s, r]) => `| ${n} | ${s.toFixed(2)} | ${r.toLocaleString('en-US')} |`),
  ].join('\n');
  const ratio = median(tshark) / median(weirCli);
  const ratioPhs = median(tsharkPhs) / median(weirCli);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  const section = [
    `## discover throughput (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${machine()}; shared with other sessions while measured, so CPU time (user + system) of each command is compared, not wall time.`,
    '',
    `Input: ${made.frames.toLocaleString('en-US')} frames (${mib.toFixed(0)} MiB) built from the real captures in ../shared/pcaps (${sources.length} files), repeated ${made.reps}× with time moving forward and IPv4 addresses shifted per repetition (bench/make-input.ts). Median of ${RUNS} interleaved runs; whole commands include Node start-up and module loading.`,
    '',
    table,
    '',
    `weir discover vs tshark -q: **${ratio.toFixed(2)}×**; vs tshark with full dissection (-z io,phs): **${ratioPhs.toFixed(2)}×**${beforeDist ? `; vs the previous build: **${(median(weirBefore) / median(weirCli)).toFixed(2)}×**` : ''} (CPU time, same file, same run; >1 means this build is faster). Per-run CPU seconds: weir ${list(weirCli)}${beforeDist ? `; previous build ${list(weirBefore)}` : ''}; tshark -q ${list(tshark)}; tshark -z io,phs ${list(tsharkPhs)}; in-process ${list(weirIn)}.`,
    '',
    `Targets (issue 2): ≥1,000,000 packets/s per core and ≥10× tshark. Reached: ${rate(median(weirIn)).toLocaleString('en-US')} packets per CPU-second in process on one core; see the ratios above.`,
    '',
  ].join('\n');
  console.log(section);
  writeSection('discover throughput', section);
  if (process.env.BENCH_ONLY === 'discover') return;
  recordDetection(big, RUNS);
  recordMulticore(big, RUNS, await multicoreLong(sources));
  recordItiQuality();
  recordPolicySimulation(big, RUNS);
  await recordGateway(RUNS);
  await recordDashboard(RUNS);
  await recordFailOpen(Math.max(RUNS, 9), labPolicyStore);
  recordIncidents();
  recordMemory();
  await recordLiveRate(big);
  await recordAdvisories(Math.min(RUNS, 3));
  await recordExport(RUNS);
  await recordPlaybookLatency(Number(process.env.BENCH_TRIALS ?? 60), labPolicyStore);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
