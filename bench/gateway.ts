// Gateway cost: Modbus request/response latency and throughput direct to a server, through a plain TCP relay,
// and through `weir gateway` (every request dissected and checked against a policy), in the same run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machine, median, root, today, writeSection } from './results.js';
import { readHealth } from '../src/enforce/state.js';
import { approvedStore } from '../test/helpers/approved-store.js';

const peer = path.join(root, 'dist/bench/modbus-peer.js');
const cli = path.join(root, 'dist/src/cli/main.js');
const SERVER = { host: '127.0.0.2', port: 1502 };
const RELAY_PORT = 15100;

const POLICY = `weir: policy/1
zones:
  - { name: supervisory, members: [127.0.0.1], mode: monitor }
  - { name: control, members: [${SERVER.host}], mode: enforce }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - { name: hmi, conduit: sup-ctl, clients: [127.0.0.1], servers: [${SERVER.host}], protocol: modbus, ports: [${SERVER.port}],
      functions: [read_holding_registers], addresses: { holding_register: [0-999] }, access: read-only }
`;

function start(args: string[], ready: RegExp): Promise<ChildProcess> {
  const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve(c);
    });
    c.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

function clientRun(
  port: number,
  host: string,
  mode: 'latency' | 'throughput',
  n: number,
  conns = 1,
): Record<string, number> {
  const r = spawnSync(
    process.execPath,
    [peer, 'client', host, String(port), mode, String(n), String(conns)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`client failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as Record<string, number>;
}

/** CPU seconds a process has used so far (user + system, from /proc). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
}

export async function recordGateway(
  runs: number,
  latencyN = 20_000,
  seconds = 4,
  conns = 16,
): Promise<void> {
  const policy = path.join(os.tmpdir(), 'weir-bench-gateway.yaml');
  writeFileSync(policy, POLICY);
  const procs: ChildProcess[] = [];
  try {
    procs.push(await start([peer, 'server', SERVER.host, String(SERVER.port)], /ready/));
    procs.push(
      await start(
        [peer, 'relay', '127.0.0.1', String(RELAY_PORT), SERVER.host, String(SERVER.port)],
        /ready/,
      ),
    );
    // No per-client request budget here: the benchmark measures the inspection path, not the flood throttle.
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-gw-'));
    // Enforce mode only from an approved policy: a store whose active policy it is, and a logged-in admin.
    const store = await approvedStore(stateDir, readFileSync(policy, 'utf8'));
    const gw = await start(
      [
        cli,
        'gateway',
        '--listen',
        '127.0.0.1',
        '--state-dir',
        stateDir,
        '--rate',
        '100000000',
        ...store.auth,
      ],
      /gateway_started/,
    );
    procs.push(gw);
    // The gateway picks its listener's port and tells the kernel; without nftables here, the bench connects to it directly.
    const gatewayPort =
      readHealth(stateDir)?.targets[0]?.listenPort ??
      (await new Promise<number>((resolve) =>
        setTimeout(() => resolve(readHealth(stateDir)!.targets[0]!.listenPort), 500),
      ));
    const paths = {
      direct: { host: SERVER.host, port: SERVER.port },
      relay: { host: '127.0.0.1', port: RELAY_PORT },
      gateway: { host: '127.0.0.1', port: gatewayPort },
    };
    const lat: Record<string, Array<Record<string, number>>> = {
      direct: [],
      relay: [],
      gateway: [],
    };
    const tps: Record<string, number[]> = { direct: [], relay: [], gateway: [] };
    const perCore: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const [name, p] of Object.entries(paths)) {
        lat[name]!.push(clientRun(p.port, p.host, 'latency', latencyN));
        const c0 = cpuSeconds(gw.pid!);
        const t = clientRun(p.port, p.host, 'throughput', seconds, conns);
        tps[name]!.push(t.tps!);
        if (name === 'gateway')
          perCore.push(t.transactions! / Math.max(1e-3, cpuSeconds(gw.pid!) - c0));
      }
      console.log(
        `run ${i + 1}: p99 direct ${lat.direct!.at(-1)!.p99!.toFixed(0)} µs, relay ${lat.relay!.at(-1)!.p99!.toFixed(0)} µs, gateway ${lat.gateway!.at(-1)!.p99!.toFixed(0)} µs; tps gateway ${tps.gateway!.at(-1)!.toFixed(0)}`,
      );
    }
    const m = (name: string, k: string): number => median(lat[name]!.map((x) => x[k]!));
    const added99 = m('gateway', 'p99') - m('direct', 'p99');
    const rows = (['direct', 'relay', 'gateway'] as const).map(
      (n) =>
        `| ${n === 'direct' ? 'direct to the server' : n === 'relay' ? 'plain TCP relay (Node pipe)' : 'weir gateway (dissect + policy check per request)'} | ${m(n, 'p50').toFixed(0)} | ${m(n, 'p99').toFixed(0)} | ${Math.round(median(tps[n]!)).toLocaleString('en-US')} |`,
    );
    const body = [
      `## gateway latency and throughput (${today()})`,
      '',
      `Machine: ${machine()}.`,
      '',
      `Modbus/TCP FC3 (10 registers) on loopback: a minimal Node server (bench/modbus-peer.ts), reached directly, through a plain relay, and through \`weir gateway\` with a policy that checks function and address of every request. Latency: one connection, one request at a time, ${latencyN.toLocaleString('en-US')} requests after 2,000 warm-up; throughput: ${conns} connections, one request outstanding each, ${seconds} s. Client, server, relay and gateway are separate processes on the same ${os.cpus().length} cores. Medians of ${runs} interleaved runs.`,
      '',
      '| path | p50 µs | p99 µs | transactions/s |',
      '| --- | ---: | ---: | ---: |',
      ...rows,
      '',
      `Added p99 by the gateway over direct: **${added99.toFixed(0)} µs** (target ≤200 µs); over the plain relay: ${(m('gateway', 'p99') - m('relay', 'p99')).toFixed(0)} µs. Gateway throughput per CPU-second of the gateway process: **${Math.round(median(perCore)).toLocaleString('en-US')} transactions** (target ≥50,000 per core).`,
      '',
    ].join('\n');
    console.log(body);
    writeSection('gateway latency and throughput', body);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
}
