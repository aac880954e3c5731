// Many clients, each within its connection cap, can still exhaust the gateway's file descriptors. Then it can
// serve nobody — its own fault — and it must fail open loudly: say so, stop steering and exit for its
// supervisor, instead of refusing every client's connection in silence. The gateway runs as `weir gateway` under a
// small descriptor limit (prlimit) in a network namespace of its own, in front of a real pymodbus PLC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { readHealth, writeApplied } from '../../src/enforce/state.js';
import { canBuildLab } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { cli, sleep } from './lab-kit.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [127.0.0.64/26], mode: monitor }
  - { name: ctl, members: [127.0.0.2], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmis, conduit: c, clients: [127.0.0.64/26], servers: [127.0.0.2], protocol: modbus, access: read-only }
`;

/** In the namespace: 3 connections from each of 40 client addresses, each reading once, all held open. */
const CLIENTS = `
const net = require('node:net');
const port = Number(process.argv[1]);
let ok = 0, failed = 0;
const socks = [];
for (let a = 20; a < 200; a++)
  for (let i = 0; i < 3; i++) {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.' + a }, () =>
      s.write(Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])));
    s.on('data', () => ok++);
    s.on('error', () => failed++);
    socks.push(s);
  }
setTimeout(() => { console.log(JSON.stringify({ ok, failed })); process.exit(0); }, 4000);
`;

test(
  'gateway exhaustion (many clients within their caps) fails open loudly: logged, steering dropped, exit 70',
  { timeout: 60_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root for a network namespace');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-exhaust-'));
    const ns = `weir-ex-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const r = parsePolicy(POLICY, 'p.yaml');
    assert.ok(r.ok);
    writeApplied(dir, {
      sha: policyHashes(r.policy, POLICY).sha,
      source: 'p.yaml',
      text: POLICY,
      appliedAt: new Date().toISOString(),
      actor: 'test',
      family: 'inet',
      gatewayIp: '127.0.0.1',
    });
    const inNs = (cmd: string, args: string[]) =>
      spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const plc = inNs('/usr/bin/python3', [
      path.join(repoRoot, 'test/lab/agents/modbus_server.py'),
      '127.0.0.2',
    ]);
    const log = path.join(dir, 'gw.jsonl');
    let gw: ReturnType<typeof inNs> | null = null;
    try {
      await sleep(1500); // pymodbus starts
      gw = inNs('prlimit', [
        '--nofile=400:400', // the CLI opens ~150 module files while it starts
        process.execPath,
        cli,
        'gateway',
        '--listen',
        '127.0.0.1',
        '--state-dir',
        dir,
        '--log',
        log,
      ]);
      let gwErr = '';
      gw.stderr!.on('data', (d: Buffer) => (gwErr += d.toString()));
      const exited = new Promise<number | null>((res) => gw!.once('exit', (code) => res(code)));
      let port = 0;
      // Up to 30 s: a Node process starting on a busy 2-core CI machine can take several seconds.
      for (let i = 0; i < 600 && port === 0 && gw.exitCode === null; i++) {
        port = readHealth(dir)?.targets[0]?.listenPort ?? 0;
        if (port === 0) await sleep(50);
      }
      assert.ok(port > 0, `the gateway listens (exit ${gw.exitCode}): ${gwErr}`);
      const clients = inNs(process.execPath, ['-e', CLIENTS, String(port)]);
      clients.stdout.resume();
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
      assert.equal(code, 70, 'the gateway stops on its own fault, for its supervisor to restart');
      const events = existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];
      const exhausted = events.find((e) => e.event === 'gateway_exhausted');
      assert.match(
        String(exhausted?.reason),
        /^descriptors: \d+ of 400 \(EMFILE ahead\) with \d+ connections open from \d+ clients$/,
      );
      const fault = events.find((e) => e.event === 'gateway_fault');
      assert.match(String(fault?.reason), /^exhausted: /);
      assert.match(String(fault?.action), /steering removed: traffic passes uninspected/);
      assert.ok(
        !events.some((e) => e.reason === 'per_client_cap'),
        'no client reached its cap: this is exhaustion by many clients',
      );
      assert.match(readHealth(dir)?.stopReason ?? '', /fault: exhausted/);
    } finally {
      gw?.kill('SIGKILL');
      plc.kill('SIGKILL');
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
