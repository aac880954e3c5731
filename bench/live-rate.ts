// Live capture at rate: frames of the benchmark capture sent at rising packet rates into a veth pair inside a
// network namespace this benchmark creates (never onto a real interface), captured on the other end by Weir's live
// path and by dumpcap. Highest rate with every frame received and no drop counted, per tool.
//
// Generator: trafgen (netsniff-ng) with the frames as a packet configuration it loads into memory and sends in a
// loop: one sendto(2) per frame at a set rate (-b), or its mmap'd TX_RING with no rate ("max"). tcpreplay paces
// every frame through its own timing loop and topped out near 100,000 pps on these cores.
// BENCH_LIVE_GEN=tcpreplay uses tcpreplay instead.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machine, root, today, writeSection } from './results.js';
import { CAPTURE_BUFFER_KIB, captureCommand, parseTcpdumpCounters } from '../src/capture/live.js';
import { readCaptureSync } from '../src/capture/source.js';

/**
 * Target rates: packets per second, or "max" (as fast as one generator process goes) and "max2" (two generator
 * processes, one per core: faster than the readers can be given a core of their own, so where losses begin).
 */
const RATES = (process.env.BENCH_RATES ?? '100000,200000,300000,max,max2').split(',');
const rateLabel = (r: string): string => (/^\d+$/.test(r) ? fmt(Number(r)) : r);
const GEN = process.env.BENCH_LIVE_GEN === 'tcpreplay' ? 'tcpreplay' : 'trafgen';
/** Distinct frames loaded by the generator (trafgen parses its configuration in about 2 s for 40,000). */
const DISTINCT = Number(process.env.BENCH_LIVE_DISTINCT ?? 40_000);
/** Frames sent per trial (the distinct frames in a loop). */
const FRAMES = Number(process.env.BENCH_LIVE_FRAMES ?? 1_000_000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Sent {
  sent: number;
  actualPps: number;
}

interface Outcome extends Sent {
  received: number;
  /** CPU seconds (user + system) of the capture's processes: tcpdump + Weir, or dumpcap. */
  cpu: number;
  cpuNote?: string;
  /** write(2) calls of the capture helper (weir-capture or tcpdump) into Weir's pipe, from /proc/PID/io. */
  writes?: number;
  /** Kernel/libpcap drop counters as the capture tool reported them at exit. */
  dropped: number;
  /** Frames the kernel delivered to the capture end of the veth, and frames the veth itself dropped. */
  delivered: number;
  vethDropped: number;
}

function ns(name: string, ...cmd: string[]): string {
  return execFileSync('ip', ['netns', 'exec', name, ...cmd], { encoding: 'utf8' });
}

function makeLab(name: string): void {
  execFileSync('ip', ['netns', 'add', name]);
  ns(name, 'ip', 'link', 'add', 'wr0', 'type', 'veth', 'peer', 'name', 'wr1');
  for (const i of ['lo', 'wr0', 'wr1']) ns(name, 'ip', 'link', 'set', i, 'up');
}

/** The veth's counters: frames wr1 received, frames wr0 dropped on the way (the veth's own backlog overflow). */
function counters(name: string): { rx: number; dropped: number } {
  const read = (i: string, c: string) =>
    Number(ns(name, 'cat', `/sys/class/net/${i}/statistics/${c}`).trim());
  return { rx: read('wr1', 'rx_packets'), dropped: read('wr0', 'tx_dropped') };
}

function runGenerator(name: string, file: string, rate: string): Sent {
  const pps = /^\d+$/.test(rate) ? Number(rate) : 0;
  if (GEN === 'tcpreplay') {
    const loops = Math.max(1, Math.round(FRAMES / DISTINCT));
    const speed = pps > 0 ? `--pps=${pps}` : '--topspeed';
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        name,
        'tcpreplay',
        '-i',
        'wr0',
        '--preload-pcap',
        `--loop=${loops}`,
        speed,
        '--quiet',
        file,
      ],
      { encoding: 'utf8' },
    );
    const out = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`tcpreplay failed: ${out}`);
    return {
      sent: Number(/Actual: (\d+) packets/.exec(out)?.[1] ?? NaN),
      actualPps: Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(out)?.[1] ?? NaN),
    };
  }
  // One process (-P 1) keeps the frames in order and leaves the other core to the reader ("max2": two).
  // (Given a pcap, trafgen sends each frame once, paced by its time stamps, and loads it in quadratic time.)
  const r = spawnSync('ip', trafgenArgs(name, file, rate === 'max2' ? 2 : 1, FRAMES, pps), {
    encoding: 'utf8',
    timeout: 600_000,
    killSignal: 'SIGKILL',
  });
  const out = `${r.stdout}${r.stderr}`;
  // "      400000 packets outgoing" and "  1 sec, 123456 usec on CPU0 (400000 packets)": the send loop's own time.
  const per = [...out.matchAll(/(\d+) sec, (\d+) usec on CPU\d+ \((\d+) packets\)/g)];
  if (r.status !== 0 || per.length === 0) throw new Error(`trafgen failed: ${out}`);
  const sent = per.reduce((n, m) => n + Number(m[3]), 0);
  // Processes send side by side: the longest send loop is the time the whole burst took.
  const secs = Math.max(...per.map((m) => Number(m[1]) + Number(m[2]) / 1e6));
  return { sent, actualPps: sent / secs };
}

/** A capture started in the namespace; `stop` ends it and returns what it counted. */
type Capture = () => Promise<{
  received: number;
  dropped: number;
  cpu: number;
  cpuNote?: string;
  writes?: number;
}>;

/**
 * `ip netns exec NS trafgen ...` sending FRAMES frames of `cfg` out of wr0 from `procs` processes, at `pps` (0:
 * as fast as it can). --no-sock-mem and --notouch-irq: trafgen would otherwise raise the machine's socket
 * buffer limits and move NIC interrupts.
 */
export function trafgenArgs(
  ns: string,
  cfg: string,
  procs: number,
  frames: number,
  pps: number,
): string[] {
  return [
    'netns',
    'exec',
    ns,
    'trafgen',
    '-i',
    cfg,
    '-o',
    'wr0',
    '-P',
    String(procs),
    '--no-sock-mem',
    '--notouch-irq',
    '-n',
    String(frames),
    ...(pps > 0 ? ['-b', `${pps}pps`] : []),
  ];
}

/** CPU seconds a running process has used so far (`ip netns exec` execs the tool, so the pid is the tool's). */
export function cpuOf(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** write(2) calls a running process has made so far (syscw of /proc/PID/io). */
function writesOf(pid: number | undefined): number {
  try {
    return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** "cpu 1.23 0.45" as GNU time prints it with `-f 'cpu %U %S'`. */
function timeOutput(stderr: string): number {
  const m = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
  return m ? Number(m[1]) + Number(m[2]) : NaN;
}

/**
 * Weir's live path: a capture helper writing pcap to a pipe (src/capture/live.ts picks the program and its
 * arguments), here into `weir discover -`: weir-capture (one write per captured batch) or tcpdump -U (per packet).
 */
function weirLive(name: string, helper: 'weir-capture' | 'tcpdump'): Capture {
  const cli = path.join(root, 'dist/src/cli/main.js');
  const { program, args } = captureCommand('wr1', { helper });
  const capture = spawn('ip', ['netns', 'exec', name, program, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The helper's pipe goes straight to Weir (not relayed through this process, whose loop waits on the generator).
  const weir = spawn(
    '/usr/bin/time',
    ['-f', 'cpu %U %S', process.execPath, cli, 'discover', '-', '--json'],
    {
      stdio: [capture.stdout, 'pipe', 'pipe'],
    },
  );
  let err = '',
    out = '',
    weirErr = '';
  capture.stderr.on('data', (b: Buffer) => (err += b.toString()));
  weir.stdout.on('data', (b: Buffer) => (out += b.toString()));
  weir.stderr.on('data', (b: Buffer) => (weirErr += b.toString()));
  return async () => {
    const helperCpu = cpuOf(capture.pid);
    const writes = writesOf(capture.pid);
    capture.kill('SIGINT');
    await new Promise((r) => weir.on('close', r));
    const doc = JSON.parse(out) as { captures: { frames: number }[] };
    return {
      received: doc.captures[0]?.frames ?? 0,
      dropped: parseTcpdumpCounters(err)?.droppedByKernel ?? NaN,
      cpu: helperCpu + timeOutput(weirErr),
      cpuNote: `${helperCpu.toFixed(2)} + ${timeOutput(weirErr).toFixed(2)}`,
      writes,
    };
  };
}

/** The Wireshark capture engine, writing pcapng to a file on tmpfs, with the same kernel ring size as Weir's tcpdump. */
function dumpcap(name: string, dir: string): Capture {
  const file = path.join(dir, 'dumpcap.pcapng');
  const p = spawn(
    'ip',
    [
      'netns',
      'exec',
      name,
      'dumpcap',
      '-i',
      'wr1',
      '-B',
      String(CAPTURE_BUFFER_KIB / 1024),
      '-w',
      file,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return async () => {
    const cpu = cpuOf(p.pid);
    p.kill('SIGINT');
    await new Promise((r) => p.on('close', r));
    // "Packets received/dropped on interface 'wr1': 100000/0 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0)"
    const m =
      /received\/dropped on interface '[^']+': (\d+)\/(\d+) \(pcap:(\d+)\/dumpcap:(\d+)\/flushed:(\d+)\/ps_ifdrop:(\d+)\)/.exec(
        err,
      );
    if (!m) throw new Error(`dumpcap said: ${err}`);
    rmSync(file, { force: true });
    return { received: Number(m[1]), dropped: Number(m[2]) + Number(m[6]), cpu };
  };
}

/** Nobody capturing: what the generator reaches into the veth on its own. */
const nobody: Capture = () => Promise.resolve({ received: 0, dropped: 0, cpu: 0 });

async function trial(
  name: string,
  file: string,
  rate: string,
  start: () => Capture,
  warmupMs: number,
): Promise<Outcome> {
  const stop = start();
  await sleep(warmupMs); // the capture is listening (node start-up on a busy machine)
  const before = counters(name);
  const r = runGenerator(name, file, rate);
  await sleep(1500); // the last frames reach the reader
  const after = counters(name);
  const got = await stop();
  return {
    ...got,
    ...r,
    delivered: after.rx - before.rx,
    vethDropped: after.dropped - before.dropped,
  };
}

function loadNow(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
}

/** The first `count` Ethernet frames of a capture as a trafgen packet configuration, one `{ … }` per frame. */
export function writeTrafgenConfig(from: string, count: number, out: string): void {
  const packets: string[] = [];
  readCaptureSync(from, (f) => {
    if (packets.length >= count || f.linkType !== 1) return;
    const bytes: string[] = [];
    for (let i = f.offset; i < f.offset + f.capLen; i++) bytes.push(`0x${f.data[i]!.toString(16)}`);
    packets.push(`{ ${bytes.join(',')} }`);
  });
  writeFileSync(out, packets.join('\n') + '\n');
}

export async function recordLiveRate(bigFile: string): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-rate-'));
  const input = path.join(dir, GEN === 'trafgen' ? 'input.cfg' : 'input.pcap');
  if (GEN === 'trafgen') writeTrafgenConfig(bigFile, DISTINCT, input);
  else execFileSync('editcap', ['-r', bigFile, input, `1-${DISTINCT}`]);
  const name = `weir-rate-${process.pid}`;
  makeLab(name);
  const warmup = Number(process.env.BENCH_WARMUP_MS ?? 4000);
  const genRows: string[] = [];
  const rows: string[] = [];
  /** Frames per CPU-second of each tool's processes, over all its trials: the rate one core could take. */
  const TOOLS = ['weir', 'weir-tcpdump', 'dumpcap'] as const;
  const cpuTotal: Record<string, { frames: number; cpu: number }> = {};
  const best: Record<string, number> = {};
  const firstLoss: Record<string, string> = {};
  for (const t of TOOLS) {
    cpuTotal[t] = { frames: 0, cpu: 0 };
    best[t] = 0;
    firstLoss[t] = 'none';
  }
  const lossAt = (tool: string) => (firstLoss[tool] === 'none' ? 'none' : `${firstLoss[tool]} pps`);
  const loadStart = loadNow();
  try {
    for (const rate of RATES) {
      const g = await trial(name, input, rate, () => nobody, 200);
      genRows.push(
        `| ${rateLabel(rate)} | ${fmt(g.actualPps)} | ${fmt(g.sent)} | ${fmt(g.delivered)} | ${g.vethDropped} |`,
      );
      console.log(genRows.at(-1));
    }
    for (const rate of RATES) {
      for (const [tool, start] of [
        ['weir', () => weirLive(name, 'weir-capture')],
        ['weir-tcpdump', () => weirLive(name, 'tcpdump')],
        ['dumpcap', () => dumpcap(name, dir)],
      ] as const) {
        const o = await trial(name, input, rate, start, warmup);
        const clean = o.received >= o.sent && o.dropped === 0 && o.vethDropped === 0;
        // The generator shares the cores with the reader: the rate it reached is the rate that was taken.
        if (clean && best[tool]! < o.actualPps) best[tool] = Math.round(o.actualPps);
        if (!clean && firstLoss[tool] === 'none') firstLoss[tool] = fmt(o.actualPps);
        cpuTotal[tool]!.frames += o.received;
        cpuTotal[tool]!.cpu += o.cpu;
        rows.push(
          `| ${rateLabel(rate)} | ${fmt(o.actualPps)} | ${tool} | ${fmt(o.sent)} | ${fmt(o.delivered)} | ${fmt(o.received)} | ${o.dropped} | ${o.sent - Math.min(o.sent, o.received)} | ${clean ? 'yes' : 'no'} | ${o.cpuNote ?? o.cpu.toFixed(2)} | ${o.writes === undefined ? '' : fmt(o.writes)} |`,
        );
        console.log(rows.at(-1));
      }
    }
  } finally {
    spawnSync('ip', ['netns', 'del', name]);
    rmSync(dir, { recursive: true, force: true });
  }
  const loadEnd = loadNow();
  const generator =
    GEN === 'trafgen'
      ? `trafgen (netsniff-ng; one process; \`-b <rate>pps\`: one sendto(2) per frame; "max": no rate, its mmap'd TX_RING; "max2": the same from two processes)`
      : 'tcpreplay (`--preload-pcap --loop`, `--pps` or `--topspeed` for "max")';
  const body = [
    `## live capture at rate (${today()})`,
    '',
    `Machine: ${machine()}; load average (1/5/15 min) ${loadStart} at the start, ${loadEnd} at the end. The generator, the kernel's receive path (which runs on the sender's core for a veth) and the readers share these 2 cores, so on a shared machine these are lower bounds.`,
    '',
    `The first ${fmt(DISTINCT)} frames of the benchmark input, sent ${fmt(FRAMES)} times in a loop per trial by ${generator} into one end of a veth pair inside a network namespace created for the run; the other end captured by Weir's live path with its own helper ("weir": weir-capture), by Weir's live path through tcpdump (its fallback, "weir-tcpdump") and by dumpcap (Wireshark's capture engine), one after the other at each rate. Weir's live path is a capture helper writing pcap to a pipe that Weir reads (src/capture/live.ts; here \`weir-capture -t 100 … | weir discover -\` or \`tcpdump -U -w - | weir discover -\`, the same parser and pipeline): weir-capture (src/capture/weir-capture.c) writes once per batch libpcap hands over (at most 100 ms after a frame arrived), tcpdump -U once per packet; libpcap's TPACKET_V3 ring does the AF_PACKET work in C, the process boundary keeps a slow consumer from stalling the kernel side until the pipe buffer and then the 32 MiB kernel ring fill, and no native Node addon is needed. Drops: the helper's "dropped by kernel" and dumpcap's pcap/ps_ifdrop counters at exit, the veth's own drops (wr0 tx_dropped); delivered: frames the capture end received (wr1 rx_packets); received: frames Weir parsed, packets dumpcap wrote; lost: sent minus received. "clean" = every sent frame received, no drop counted.`,
    '',
    'The generator alone, nobody capturing:',
    '',
    '| target pps | reached pps | sent | delivered | veth dropped |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...genRows,
    '',
    'Capturing (each tool alone at each rate):',
    '',
    '| target pps | reached pps | tool | sent | delivered | received | dropped | lost | clean | reader CPU s (helper + Weir) | helper write(2)s |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows,
    '',
    `Highest rate reached with nothing lost: Weir live (weir-capture) **${fmt(best.weir!)} pps**, Weir through tcpdump **${fmt(best['weir-tcpdump']!)} pps**, dumpcap **${fmt(best.dumpcap!)} pps**; first loss at Weir (weir-capture) ${lossAt('weir')}, through tcpdump ${lossAt('weir-tcpdump')}, dumpcap ${lossAt('dumpcap')} (target rates tried: ${RATES.map(rateLabel).join(', ')}).`,
    '',
    `Reader CPU (user + system; the capture helper read from /proc just before it is stopped, Weir and dumpcap at exit; start-up and read-out included): over all trials Weir's path took **${fmt(cpuTotal.weir!.frames / cpuTotal.weir!.cpu)} frames per CPU-second** with weir-capture, ${fmt(cpuTotal['weir-tcpdump']!.frames / cpuTotal['weir-tcpdump']!.cpu)} through tcpdump, dumpcap **${fmt(cpuTotal.dumpcap!.frames / cpuTotal.dumpcap!.cpu)}**: the rate each could keep up with on one core of its own, whatever the generator reaches.`,
    '',
  ].join('\n');
  console.log(body);
  writeSection('live capture at rate', body);
}
