// weir-capture's own CPU per million frames, one build's helper against another's, interleaved: e.g. before and
// after it gave up root and gained its running counters (issue 18). Frames of the benchmark input are sent by
// trafgen at a fixed rate into a veth pair inside a network namespace this benchmark creates; each helper captures
// the other end with the arguments its build's src/capture/live.ts gives it, into a pipe this process drains.
// Prints a Markdown table (medians of the helper's user + system CPU, read from /proc just before it is stopped);
// RESULTS.md takes it by hand, so no section is regenerated.
// Usage: node dist/bench/live-helper-cpu.js BEFORE_DIST AFTER_DIST INPUT.pcap   (BENCH_ROUNDS, BENCH_FRAMES, BENCH_PPS)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuOf, trafgenArgs, writeTrafgenConfig } from './live-rate.js';
import { parseTcpdumpCounters } from '../src/capture/live.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 1_000_000);
const PPS = Number(process.env.BENCH_PPS ?? 200_000);
const DISTINCT = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Build {
  label: string;
  program: string;
  args: string[];
}

/** A build's helper and the arguments its own live.ts gives it for wr1 (older builds: no -Z, no -S). */
async function buildOf(label: string, dist: string): Promise<Build> {
  const live = (await import(path.resolve(dist, 'src/capture/live.js'))) as {
    helperArgs(iface: string): string[];
  };
  return {
    label,
    program: path.resolve(dist, '../bin/weir-capture'),
    args: live.helperArgs('wr1'),
  };
}

async function trial(
  b: Build,
  cfg: string,
): Promise<{ cpu: number; captured: number; sent: number }> {
  const name = `weir-hcpu-${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  try {
    const inNs = (...cmd: string[]) => execFileSync('ip', ['netns', 'exec', name, ...cmd]);
    inNs('ip', 'link', 'add', 'wr0', 'type', 'veth', 'peer', 'name', 'wr1');
    for (const i of ['lo', 'wr0', 'wr1']) inNs('ip', 'link', 'set', i, 'up');
    const helper = spawn('ip', ['netns', 'exec', name, b.program, ...b.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    helper.stdout.resume();
    helper.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise((r) => helper.on('close', r));
    await sleep(1000);
    // Spawned, not spawnSync: this process keeps draining the helper's pipe while the frames go out.
    const g = spawn('ip', trafgenArgs(name, cfg, 1, FRAMES, PPS), { stdio: 'ignore' });
    const code = await new Promise((r) => g.on('close', r));
    if (code !== 0) throw new Error(`trafgen failed: exit ${String(code)}`);
    await sleep(500);
    const cpu = cpuOf(helper.pid);
    helper.kill('SIGINT');
    await closed;
    const c = parseTcpdumpCounters(err);
    if (!c) throw new Error(`${b.label}: no counters: ${err}`);
    if (c.droppedByKernel > 0)
      process.stderr.write(`${b.label}: ${c.droppedByKernel} dropped by kernel\n`);
    return { cpu, captured: c.captured, sent: FRAMES };
  } finally {
    execFileSync('ip', ['netns', 'del', name]);
  }
}

async function main(): Promise<void> {
  const [beforeDist, afterDist, input] = process.argv.slice(2);
  if (!beforeDist || !afterDist || !input)
    throw new Error('usage: live-helper-cpu BEFORE_DIST AFTER_DIST INPUT.pcap');
  const builds = [await buildOf('before', beforeDist), await buildOf('after', afterDist)];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-hcpu-'));
  const cfg = path.join(dir, 'input.cfg');
  writeTrafgenConfig(input, DISTINCT, cfg);
  const cpu: Record<string, number[]> = { before: [], after: [] };
  const lost: Record<string, number> = { before: 0, after: 0 };
  const load0 = os.loadavg();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved, the order alternating per round: a drift in the machine's load hits both alike.
      for (const b of r % 2 ? [...builds].reverse() : builds) {
        const t = await trial(b, cfg);
        cpu[b.label]!.push((t.cpu * 1e6) / t.captured);
        lost[b.label]! += t.sent - Math.min(t.sent, t.captured);
        process.stderr.write(
          `${b.label} round ${r + 1}: ${t.cpu.toFixed(2)} CPU s, ${t.captured} captured\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const load1 = os.loadavg();
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
  const out = [
    `Helper CPU per million frames (user + system, /proc), ${ROUNDS} interleaved rounds, ${FRAMES.toLocaleString('en-US')} frames at ${PPS.toLocaleString('en-US')} pps per trial; load average ${load0.map((l) => l.toFixed(1)).join(' / ')} at the start, ${load1.map((l) => l.toFixed(1)).join(' / ')} at the end.`,
    '',
    '| helper | arguments | median CPU s / 1M frames | runs | frames lost |',
    '| --- | --- | ---: | --- | ---: |',
    ...builds.map(
      (b) =>
        `| ${b.label} | \`${b.args.join(' ')}\` | ${median(cpu[b.label]!).toFixed(3)} | ${fmt(cpu[b.label]!)} | ${lost[b.label]} |`,
    ),
    '',
    `after / before: ${(median(cpu.after!) / median(cpu.before!)).toFixed(2)}`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

await main();
