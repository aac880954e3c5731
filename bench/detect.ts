// Detection: quality on real captures (learn on the first part, detect on the rest) and cost over discover.
import os from 'node:os';
import path from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { launcherEnv, launcherFlags } from './launcher-flags.js';
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';
import { ValueRanges } from '../src/discover/values.js';
import { baselineFrom, type Baseline } from '../src/discover/baseline.js';
import { DetectionEngine } from '../src/detect/engine.js';
import type { Detection } from '../src/detect/detection.js';
import { machine, median, root, sharedPcaps, today, writeSection } from './results.js';

export interface SplitResult {
  file: string;
  learnFrames: number;
  detectFrames: number;
  detectMessages: number;
  detections: Detection[];
}

/** Learn on frames before `fraction` of the capture's time span, detect on the rest, in one pass. */
export function learnThenDetect(file: string, fraction: number): SplitResult {
  let first = Infinity,
    last = -Infinity;
  readCaptureSync(file, (f) => {
    if (f.ts < first) first = f.ts;
    if (f.ts > last) last = f.ts;
  });
  return learnThenDetectAt(file, first + (last - first) * fraction);
}

/** Learn on frames before `split` (epoch seconds), detect on the rest, in one pass. */
export function learnThenDetectAt(file: string, split: number): SplitResult {
  const inv = new Inventory();
  const values = new ValueRanges();
  let learnFrames = 0,
    detectFrames = 0,
    detectMessages = 0;
  let engine: DetectionEngine | null = null;
  let baseline: Baseline | null = null;
  const p = new DissectPipeline({
    onPacket(pkt) {
      if (pkt.ts < split) {
        learnFrames++;
        inv.onPacket(pkt);
        return;
      }
      if (engine === null) {
        baseline = baselineFrom(
          inv.snapshot(),
          values.ranges(),
          { version: 1, sources: [file] },
          inv.io.connections(),
        );
        engine = new DetectionEngine(baseline);
      }
      detectFrames++;
      engine.onPacket(pkt);
    },
    onMessage(m) {
      if (m.ts < split) {
        inv.onMessage(m);
        values.onMessage(m);
        return;
      }
      detectMessages++;
      engine!.onMessage(m);
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  return {
    file,
    learnFrames,
    detectFrames,
    detectMessages,
    detections: engine ? (engine as DetectionEngine).finish() : [],
  };
}

/**
 * How each capture's detections were judged, by reading the frames they cite (kept here so the table stays
 * honest when it is regenerated; update it when the detections change).
 */
const JUDGED: Record<string, string> = {
  'modbus_example.pcap':
    'TP 3: the second half is a different host on the internet reaching port 502 (new asset, new edge)',
  's7comm_snap7.pcap':
    'TP 8: the snap7 test client uploads a block (learned, so low, never hidden), reads the CPU clock and sets it (time_change), writes 6 areas it never wrote (one detection listing them), stops the CPU, copies RAM to ROM (PI _MODU, no longer taken for a start), compresses memory (PI _GARB) and restarts the CPU; all real operations',
  's7comm_plus.pcap':
    'TP 3: a new client appears (asset, edge) and writes 3 ranges (one detection listing them); FP 1: the HMI uses SET_MULTI_VARIABLES, not seen in the short learning half',
  'dnp3_example.pcap':
    "FP 3: the master uses SELECT and OPERATE (one detection each, listing its 14 points), unseen in the 2-minute learning half, and the outstation's UNSOLICITED_RESPONSE is taken for a request (a dissector issue)",
  'enip_cip_example.pcap':
    'TP 6: three traces joined into one file, the second half holds other devices (new assets and edges)',
  'bacnet_example.pcap': 'TP 8, benign: polling of 8 devices stops 40–60 s before the capture ends',
  'bacnet_services.pcap':
    'TP 1, benign: the service test trace writes properties of 3 objects it never wrote before (one detection listing them)',
  's7_1200_hmi_timer_sync.pcapng': 'no detections: correct, steady HMI polling',
  'plant.pcap':
    'TP 6, FP 0: PLC stop, port scan, intruder (new asset, new edge) and its two unauthorised writes',
};

/** Quality table: detections per 10k messages on captures of normal operations. */
export function detectionQuality(): string {
  const files = [
    'icsnpp/modbus_example.pcap',
    'icsnpp/s7comm_snap7.pcap',
    'icsnpp/s7comm_plus.pcap',
    'icsnpp/dnp3_example.pcap',
    'icsnpp/enip_cip_example.pcap',
    'icsnpp/bacnet_example.pcap',
    'icsnpp/bacnet_services.pcap',
    'ics-pcap/s7_1200_hmi_timer_sync.pcapng',
  ]
    .map((f) => path.join(sharedPcaps, f))
    .filter(existsSync);
  const fixture = path.join(root, 'fixtures/plant.pcap');
  if (existsSync(fixture)) files.push(fixture);
  const rows: string[] = [
    '| capture | learn frames | detect frames | detect messages | detections | per 10k messages | types | judged (true/false positives) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const f of files) {
    const r = learnThenDetect(f, 0.5);
    const types = new Map<string, number>();
    for (const d of r.detections) types.set(d.type, (types.get(d.type) ?? 0) + 1);
    const per10k = r.detectMessages ? (10000 * r.detections.length) / r.detectMessages : 0;
    rows.push(
      `| ${path.basename(f)} | ${r.learnFrames} | ${r.detectFrames} | ${r.detectMessages} | ${r.detections.length} | ${per10k.toFixed(1)} | ${[...types].map(([t, n]) => `${t}×${n}`).join(', ')} | ${JUDGED[path.basename(f)] ?? 'not judged'} |`,
    );
  }
  return rows.join('\n');
}

/** Seconds of one pass: wall clock and CPU (user + system) of the worker process. */
export interface PassTimes {
  wall: number[];
  cpu: number[];
}

export interface Overhead {
  frames: number;
  discover: PassTimes;
  withDetect: PassTimes;
  /** The same passes by an earlier build (BENCH_BEFORE=path/to/its/dist), interleaved with ours. */
  before: { dist: string; discover: PassTimes; withDetect: PassTimes } | null;
}

/**
 * Cost of detection on top of discover: the same pass with and without the engine, each run in a fresh
 * process (bench/detect-cost-worker.ts) so the two never share JIT state, interleaved, medians compared. CPU
 * time is what compares on a shared machine; wall time is kept beside it.
 */
export function detectionOverhead(file: string, runs: number): Overhead {
  // Baseline learned from the same input, as a plant would have after its learning period.
  const inv0 = new Inventory();
  const v0 = new ValueRanges();
  const p0 = new DissectPipeline([inv0, v0]);
  const s0 = readCaptureSync(file, (f) => p0.push(f));
  const baselineFile = path.join(path.dirname(file), 'baseline.json');
  writeFileSync(
    baselineFile,
    JSON.stringify(baselineFrom(inv0.snapshot(), v0.ranges(), { version: 1, sources: [file] })),
  );
  const pass = (dist: string, args: string[], into: PassTimes): void => {
    const worker = path.join(dist, 'bench/detect-cost-worker.js');
    // Each build as its launcher starts `weir discover`/`weir detect` (its young generation and tier-up budget).
    const r = spawnSync(process.execPath, [...launcherFlags(dist, args[0]), worker, ...args], {
      encoding: 'utf8',
      env: launcherEnv(dist, args[0]),
    });
    if (r.status !== 0) throw new Error(`detect-cost-worker ${args[0]} failed: ${r.stderr}`);
    const [wall, cpu] = r.stdout.trim().split(' ').map(Number);
    // An earlier build's worker printed wall seconds only: give it this build's worker (harness, not measured code).
    if (cpu === undefined)
      throw new Error(`${worker} prints no CPU time: copy dist/bench/detect-cost-worker.js there`);
    into.wall.push(wall!);
    into.cpu.push(cpu);
  };
  const times = (): PassTimes => ({ wall: [], cpu: [] });
  const ours = path.join(root, 'dist');
  const beforeDist = process.env.BENCH_BEFORE;
  const o: Overhead = {
    frames: s0.frames,
    discover: times(),
    withDetect: times(),
    before: beforeDist ? { dist: beforeDist, discover: times(), withDetect: times() } : null,
  };
  for (let i = 0; i < runs; i++) {
    pass(ours, ['discover', file], o.discover);
    pass(ours, ['detect', file, baselineFile], o.withDetect);
    if (o.before !== null) {
      pass(o.before.dist, ['discover', file], o.before.discover);
      pass(o.before.dist, ['detect', file, baselineFile], o.before.withDetect);
    }
  }
  return o;
}

const added = (disc: number, det: number): number => (100 * (det - disc)) / disc;
const list = (xs: number[]): string => xs.map((t) => t.toFixed(2)).join(', ');

export function recordDetection(bigFile: string, runs: number): void {
  const quality = detectionQuality();
  const load0 = os.loadavg()[0]!;
  const o = detectionOverhead(bigFile, runs);
  const load1 = os.loadavg()[0]!;
  const flags = (dist: string): string => {
    const discover = launcherFlags(dist, 'discover').join(' ') || 'none';
    const detect = launcherFlags(dist, 'detect').join(' ') || 'none';
    return discover === detect ? discover : `${discover}\`; detect: \`${detect}`;
  };
  const rows: [string, PassTimes, PassTimes][] = [['this build', o.discover, o.withDetect]];
  if (o.before !== null) rows.push(['previous build', o.before.discover, o.before.withDetect]);
  const table = [
    '| build | discover CPU s | discover + detect CPU s | detection adds | discover packets/s per core | discover wall s | + detect wall s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(([name, d, w]) => {
      const dc = median(d.cpu),
        wc = median(w.cpu);
      return `| ${name} | ${dc.toFixed(2)} | ${wc.toFixed(2)} | **${added(dc, wc).toFixed(0)}%** | ${Math.round(o.frames / dc).toLocaleString('en-US')} | ${median(d.wall).toFixed(2)} | ${median(w.wall).toFixed(2)} |`;
    }),
  ].join('\n');
  const ours = added(median(o.discover.cpu), median(o.withDetect.cpu));
  const body = [
    `## detection (${today()})`,
    '',
    `Machine: ${machine()}; load average (1 min) ${load0.toFixed(1)} before the cost runs and ${load1.toFixed(1)} after (${Math.max(load0, load1) > 2.5 ? 'other work shared the cores' : 'nothing but this bench running: its own passes and their V8 threads make that load'}). CPU time (user + system) of each pass is compared, not wall time.`,
    '',
    'Quality: each capture is split at the middle of its time span; the first half is learned as the baseline (`weir learn --until 50%`), the second half is run through every detector (`weir detect --from 50%`). The public captures are short test traces, so a half is a very short learning window; the rate per 10k messages is dominated by that. The fixture plant.pcap ends with an engineering stop and an intruder (scan, unauthorised writes) in its second half. Judgements come from reading the cited frames.',
    '',
    quality,
    '',
    `Cost: discover alone vs discover + all detectors on the ${o.frames.toLocaleString('en-US')}-frame benchmark input (baseline learned from the same input), one timed pass per fresh process, median of ${runs} interleaved runs${o.before !== null ? ', the previous build interleaved with this one' : ''}, each build started with the Node flags its own launcher (bin/weir) gives \`weir discover\` and \`weir detect\` (this build: \`${flags(path.join(root, 'dist'))}\`${o.before !== null ? `; previous build: \`${flags(o.before.dist)}\`` : ''}). **Detection adds ${ours.toFixed(0)}%** of CPU time (target ≤25%).`,
    '',
    table,
    '',
    `Per-run CPU seconds, this build: discover ${list(o.discover.cpu)}; with detection ${list(o.withDetect.cpu)}.${o.before !== null ? ` Previous build: discover ${list(o.before.discover.cpu)}; with detection ${list(o.before.withDetect.cpu)}.` : ''}`,
    '',
  ].join('\n');
  console.log(body);
  writeSection('detection', body);
}
