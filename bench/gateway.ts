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
const protocolPeer = path.join(root, 'dist/bench/gateway-protocol-peer.js');
const cli = path.join(root, 'dist/src/cli/main.js');
const SERVER = { host: '127.0.0.2', port: 1502 };
const RELAY_PORT = 15100;
/** The echo server of the per-protocol rows, and its port per protocol (UMAS is Modbus FC 90). */
const ECHO = '127.0.0.3';
const PROTOCOL_PORTS = { opcua: 14840, umas: 1503, fins: 19600, slmp: 15007, mms: 1102 } as const;
const PROTOCOL_TITLES: Record<keyof typeof PROTOCOL_PORTS, string> = {
  opcua: 'OPC UA Read (node-opcua recording, None)',
  umas: 'Modbus UMAS READ_ID (FC 90)',
  fins: 'FINS/TCP memory area read',
  slmp: 'SLMP 3E device read',
  mms: 'MMS read (ISO-on-TCP 102 path)',
};
const PROTOCOL_POLICY = `weir: policy/1
zones:
  - { name: supervisory, members: [127.0.0.1], mode: monitor }
  - { name: control, members: [${ECHO}], mode: enforce }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - { name: opcua, conduit: sup-ctl, clients: [127.0.0.1], servers: [${ECHO}], protocol: opcua, ports: [${PROTOCOL_PORTS.opcua}] }
  - { name: umas, conduit: sup-ctl, clients: [127.0.0.1], servers: [${ECHO}], protocol: modbus, ports: [${PROTOCOL_PORTS.umas}],
      functions: [umas_read_id] }
  - { name: fins, conduit: sup-ctl, clients: [127.0.0.1], servers: [${ECHO}], protocol: fins, transport: tcp,
      ports: [${PROTOCOL_PORTS.fins}], addresses: { D: [0-999] } }
  - { name: slmp, conduit: sup-ctl, clients: [127.0.0.1], servers: [${ECHO}], protocol: slmp, ports: [${PROTOCOL_PORTS.slmp}],
      functions: [device_read], addresses: { D: [0-999] } }
  - { name: mms, conduit: sup-ctl, clients: [127.0.0.1], servers: [${ECHO}], protocol: mms, ports: [${PROTOCOL_PORTS.mms}] }
`;

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

/** Start `weir gateway` in enforce mode under `policyText` (an approved store of its own); its health file's folder. */
async function startGateway(
  policyText: string,
  procs: ChildProcess[],
): Promise<{ gw: ChildProcess; stateDir: string }> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-gw-'));
  // Enforce mode only from an approved policy: a store whose active policy it is, and a logged-in admin.
  const store = await approvedStore(stateDir, policyText);
  // No per-client request budget here: the benchmark measures the inspection path, not the flood throttle.
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
  return { gw, stateDir };
}

/** The port the gateway listens on for a server port (from its health file; without nftables the bench connects to it). */
async function listenPortOf(stateDir: string, port: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const t = readHealth(stateDir)?.targets.find((x) => x.port === port);
    if (t !== undefined) return t.listenPort;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the gateway does not guard port ${port}`);
}

/** Latency rows per protocol: direct to the echo server and through the gateway, interleaved runs. */
export async function protocolLatency(runs: number, n: number): Promise<string[]> {
  const procs: ChildProcess[] = [];
  try {
    procs.push(
      await start(
        [protocolPeer, 'server', ECHO, ...Object.values(PROTOCOL_PORTS).map(String)],
        /ready/,
      ),
    );
    const { stateDir } = await startGateway(PROTOCOL_POLICY, procs);
    const rows: string[] = [];
    const names = Object.keys(PROTOCOL_PORTS) as Array<keyof typeof PROTOCOL_PORTS>;
    const through = new Map<string, number>();
    for (const p of names) through.set(p, await listenPortOf(stateDir, PROTOCOL_PORTS[p]));
    const res: Record<
      string,
      { direct: Array<Record<string, number>>; gateway: Array<Record<string, number>> }
    > = {};
    for (const p of names) res[p] = { direct: [], gateway: [] };
    const run = (host: string, port: number, p: string): Record<string, number> => {
      const r = spawnSync(
        process.execPath,
        [protocolPeer, 'client', host, String(port), p, String(n)],
        {
          encoding: 'utf8',
        },
      );
      if (r.status !== 0) throw new Error(`${p} client failed: ${r.stderr}`);
      return JSON.parse(r.stdout.trim()) as Record<string, number>;
    };
    for (let i = 0; i < runs; i++)
      for (const p of names) {
        res[p]!.direct.push(run(ECHO, PROTOCOL_PORTS[p], p));
        res[p]!.gateway.push(run('127.0.0.1', through.get(p)!, p));
      }
    for (const p of names) {
      const m = (path: 'direct' | 'gateway', k: string): number =>
        median(res[p]![path].map((x) => x[k]!));
      rows.push(
        `| ${PROTOCOL_TITLES[p]} | ${m('direct', 'p50').toFixed(0)} | ${m('direct', 'p99').toFixed(0)} | ${m('gateway', 'p50').toFixed(0)} | ${m('gateway', 'p99').toFixed(0)} | ${(m('gateway', 'p50') - m('direct', 'p50')).toFixed(0)} | ${(m('gateway', 'p99') - m('direct', 'p99')).toFixed(0)} |`,
      );
      console.log(rows.at(-1));
    }
    return rows;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
}

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
    const { gw, stateDir } = await startGateway(readFileSync(policy, 'utf8'), procs);
    // The gateway picks its listener's port and tells the kernel; without nftables here, the bench connects to it directly.
    const gatewayPort = await listenPortOf(stateDir, SERVER.port);
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
    const protocolRows = await protocolLatency(runs, 5000);
    const body = [
      `## gateway latency and throughput (${today()})`,
      '',
      `Machine: ${machine().replace(/\.+$/, '')}, shared with seven other people's builds and tests while measured (load average ${os.loadavg()[0]!.toFixed(1)} when the run ended): single p99s move by milliseconds with that load, so read the medians, the p50s and the ratios.`,
      '',
      `Modbus/TCP FC3 (10 registers) on loopback: a minimal Node server (bench/modbus-peer.ts), reached directly, through a plain relay, and through \`weir gateway\` with a policy that checks function and address of every request. Latency: one connection, one request at a time, ${latencyN.toLocaleString('en-US')} requests after 2,000 warm-up; throughput: ${conns} connections, one request outstanding each, ${seconds} s. Client, server, relay and gateway are separate processes on the same ${os.cpus().length} cores. Medians of ${runs} interleaved runs.`,
      '',
      '| path | p50 µs | p99 µs | transactions/s |',
      '| --- | ---: | ---: | ---: |',
      ...rows,
      '',
      `Added p99 by the gateway over direct: **${added99.toFixed(0)} µs** (target ≤200 µs); over the plain relay: ${(m('gateway', 'p99') - m('relay', 'p99')).toFixed(0)} µs. Gateway throughput per CPU-second of the gateway process: **${Math.round(median(perCore)).toLocaleString('en-US')} transactions** (target ≥50,000 per core).`,
      '',
      `Per protocol the gateway reads request by request since issue 17 (bench/gateway-protocol-peer.ts): one connection opens its session (OPC UA HEL/OPN/session from the node-opcua recording, FINS/TCP node address, COTP and MMS initiate), then sends one allowed read at a time, ${(5000).toLocaleString('en-US')} after 2,000 warm-up, to an echo server (the gateway reads only the client's bytes) directly and through a second \`weir gateway\` whose policy limits each protocol by function and, for FINS and SLMP, address. Medians of ${runs} interleaved runs; a short run, on a shared machine whose load moves single p99s by milliseconds: the added p50 is the steadier figure.`,
      '',
      '| protocol, request | direct p50 µs | direct p99 µs | gateway p50 µs | gateway p99 µs | added p50 µs | added p99 µs |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...protocolRows,
      '',
    ].join('\n');
    console.log(body);
    writeSection('gateway latency and throughput', body);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
}
