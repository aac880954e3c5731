// Live capture helpers on a quiet link and in a burst: how long a lone frame waits before it reaches Weir, and
// how many write(2) calls a helper makes into Weir's pipe per frame. Runs in a network namespace of its own (its
// loopback only). Helpers: weir-capture (src/capture/weir-capture.c), tcpdump -U (Weir's fallback, with and
// without --immediate-mode), and netsniff-ng writing pcap to stdout (evaluated as a ready-made helper).
// Usage: node dist/bench/live-latency.js   (needs root, iproute2, tcpdump, netsniff-ng, a built weir-capture)
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { captureCommand } from '../src/capture/live.js';
import { CaptureParser } from '../src/capture/parser.js';

const LONE = Number(process.env.BENCH_LONE_FRAMES ?? 5);
const BURST = Number(process.env.BENCH_BURST_FRAMES ?? 20_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// netsniff-ng needs --no-sock-mem: otherwise it tries to raise the machine's socket buffer limits and, denied
// (in a namespace), prints that on stdout, into the pcap stream.
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function helpers(): { name: string; program: string; args: string[] }[] {
  const wc = captureCommand('lo', { helper: 'weir-capture', bpf: 'udp' });
  const td = captureCommand('lo', { helper: 'tcpdump', bpf: 'udp' });
  const tdi = captureCommand('lo', { helper: 'tcpdump', bpf: 'udp', immediate: true });
  return [
    { name: 'weir-capture (-t 100)', program: wc.program, args: wc.args },
    { name: 'tcpdump -U', program: td.program, args: td.args },
    { name: 'tcpdump -U --immediate-mode', program: tdi.program, args: tdi.args },
    {
      name: 'netsniff-ng --out -',
      program: 'netsniff-ng',
      args: ['--in', 'lo', '--out', '-', '--silent', '--notouch-irq', '--no-sock-mem', '-f', 'udp'],
    },
  ];
}

function sendUdp(ns: string, count: number, gapMs: number): void {
  const js = `const d=require('dgram').createSocket('udp4');let i=0;const f=()=>{if(i++>=${count}){d.close();return;}d.send('weir',47300,'127.0.0.1',()=>${gapMs > 0 ? `setTimeout(f,${gapMs})` : 'setImmediate(f)'});};f();`;
  execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]);
}

function writesOf(pid: number | undefined): number {
  return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

async function measure(ns: string, h: { name: string; program: string; args: string[] }) {
  const delays: number[] = [];
  let frames = 0;
  const parser = new CaptureParser((f) => {
    frames++;
    delays.push(Date.now() / 1000 - f.ts);
  });
  const child = spawn('ip', ['netns', 'exec', ns, h.program, ...h.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (b: Buffer) => parser.feed(b));
  child.stderr.resume();
  await sleep(1500);
  const lone: number[] = [];
  for (let i = 0; i < LONE; i++) {
    const before = frames;
    sendUdp(ns, 1, 0);
    for (let t = 0; t < 40 && frames === before; t++) await sleep(50);
    if (frames > before) lone.push(delays.at(-1)!);
    await sleep(1200 + Math.random() * 300); // quiet between frames, off any timer's phase
  }
  const w0 = writesOf(child.pid);
  const f0 = frames;
  sendUdp(ns, BURST, 0);
  await sleep(1500);
  const writes = writesOf(child.pid) - w0;
  const burst = frames - f0;
  child.kill('SIGINT');
  await new Promise((r) => child.on('close', r));
  return { lone, writes, burst };
}

async function main(): Promise<void> {
  const ns = `weir-lat-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const rows: string[] = [];
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const h of helpers()) {
      const r = await measure(ns, h);
      const ms = r.lone.map((d) => (d * 1000).toFixed(0));
      rows.push(
        `| ${h.name} | ${r.lone.length}/${LONE} | ${r.lone.length ? (median(r.lone) * 1000).toFixed(0) : '—'} | ${r.lone.length ? (Math.max(...r.lone) * 1000).toFixed(0) : '—'} (${ms.join(', ')}) | ${r.burst} | ${r.writes} | ${(r.burst / r.writes).toFixed(1)} |`,
      );
      console.log(rows.at(-1));
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  console.log(
    [
      '',
      '| helper | lone frames seen | median delay ms | max delay ms (each) | burst frames seen | write(2)s in burst | frames per write |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n'),
  );
}

await main();
