// The gateway's own faults fail open, in the lab with the real PLCs: kill -9, a full log disk, a flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { startPlcs } from '../lab/scenario.js';
import { readHealth } from '../../src/enforce/state.js';
import { agent, cli, GATEWAY_IP, labPolicyStore, plantPolicy, sleep } from './lab-kit.js';

const POLICY =
  plantPolicy(`  - { name: hmi-polls, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-1], protocol: modbus,
      functions: [read_coils, read_holding_registers, write_single_register], addresses: { holding_register: [0-99, 100], coil: [0-15] }, access: read-write }
  - { name: historian-reads, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: modbus, access: read-only }
`);

interface Probe {
  op: string;
  ok: boolean;
  data?: number[];
  modbusCode?: number | null;
}

test(
  'gateway faults fail open: kill -9 lets traffic go direct within a bounded time, a full log disk and a flood change nothing',
  { timeout: 300_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the enforcement lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-failopen-'));
    const stateDir = path.join(dir, 'state');
    const lab = Plant.up();
    const source = await labPolicyStore(dir, POLICY);
    const weirIn = (...args: string[]): string =>
      lab.exec(
        'fw',
        process.execPath,
        [
          cli,
          ...args,
          ...(['apply', 'status', 'remove'].includes(args[1] ?? '')
            ? ['--state-dir', stateDir]
            : []),
        ],
        { timeoutMs: 30_000 },
      );
    const probe = (host: Parameters<Plant['exec']>[0], ...ops: string[]): Probe[] =>
      lab
        .exec(host, process.execPath, [agent, 'probe', HOSTS.plc1, ...ops], { timeoutMs: 20_000 })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Probe);
    const startGateway = async (log: string): Promise<number> => {
      const c = lab.spawn('fw', process.execPath, [
        cli,
        'gateway',
        '--listen',
        GATEWAY_IP,
        '--state-dir',
        stateDir,
        '--log',
        log,
      ]);
      c.stdout!.resume();
      let err = '';
      c.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      c.on('exit', (code, sig) => {
        if (code && sig !== 'SIGKILL') process.stderr.write(`gateway exited ${code}: ${err}\n`);
      });
      for (let i = 0; i < 100; i++) {
        const h = readHealth(stateDir);
        if (
          h !== null &&
          h.stoppedAt === undefined &&
          h.steering.ok &&
          Date.now() - Date.parse(h.beatAt) < 1000
        )
          return h.pid;
        await sleep(100);
      }
      throw new Error(`gateway did not come up: ${err}`);
    };
    const events = (log: string): Array<Record<string, unknown>> =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];
    try {
      await startPlcs(lab);
      lab.exec('fw', 'ip', ['addr', 'add', `${GATEWAY_IP}/24`, 'dev', 'br0']);
      assert.match(
        weirIn(
          'enforce',
          'apply',
          ...source,
          '--family',
          'bridge',
          '--gateway-ip',
          GATEWAY_IP,
          '--bridge',
          'br0',
        ),
        /1 server\(s\) steered/,
      );
      const log = path.join(dir, 'gateway.jsonl');
      const pid = await startGateway(log);
      assert.equal(
        probe('historian', 'write:5:99')[0]!.modbusCode,
        1,
        "the gateway refuses the historian's write",
      );

      // 1. kill -9: the kernel leases run out and new connections go straight to the PLC.
      const poller = lab.spawn('hmi', process.execPath, [
        agent,
        'connect-poll',
        HOSTS.plc1,
        '20',
        '6',
      ]);
      const lines: string[] = [];
      poller.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
      await sleep(1000);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => poller.once('close', r));
      const results = lines
        .map((l) => l.split(' '))
        .map(([ms, r]) => ({ at: Number(ms), ok: r === 'ok' }));
      assert.ok(
        results.filter((r) => r.at < killedAt).every((r) => r.ok),
        'reads pass through the gateway before the kill',
      );
      const firstFail = results.find((r) => r.at >= killedAt && !r.ok);
      const lastFail = results.filter((r) => !r.ok).at(-1);
      const backAt = results.find(
        (r) => r.at > killedAt && r.ok && (lastFail === undefined || r.at > lastFail.at),
      );
      assert.ok(
        backAt !== undefined,
        `traffic passes again after the kill: ${lines.slice(-5).join(' | ')}`,
      );
      const gap = backAt.at - killedAt;
      process.stdout.write(
        `# fail-open after kill -9: direct traffic ${gap} ms after the kill (lease 800 ms); first refused attempt ${firstFail ? firstFail.at - killedAt : 'none'} ms\n`,
      );
      assert.ok(
        gap <= 2500,
        `traffic went direct ${gap} ms after the kill (lease 800 ms; the ≤1 s target is measured by the benchmark, this bound leaves room for a loaded machine)`,
      );
      assert.ok(
        results.filter((r) => r.at > backAt.at).every((r) => r.ok),
        'and stays direct',
      );
      const st = weirIn('enforce', 'status');
      assert.match(st, /gateway: DOWN since .*process gone/, st);
      assert.match(st, /passing uninspected/);
      const sj = JSON.parse(weirIn('enforce', 'status', '--json')) as {
        uninspected: boolean;
        gateway: { state: string };
      };
      assert.equal(sj.uninspected, true);
      assert.equal(sj.gateway.state, 'down');
      assert.equal(
        probe('historian', 'write:6:42')[0]!.ok,
        true,
        "uninspected: the historian's write reaches the PLC (the fail-open the product rule accepts)",
      );

      // 2. A full disk under the log: the gateway keeps guarding and says what it lost.
      await startGateway('/dev/full');
      assert.equal(
        probe('historian', 'write:5:99')[0]!.modbusCode,
        1,
        'back in the path: refused again',
      );
      for (let i = 0; i < 5; i++) probe('historian', 'write:5:98');
      assert.deepEqual(probe('hmi', 'read:5:1')[0]!.data, [60], 'no refused write reached the PLC');
      for (let i = 0; i < 100 && !(readHealth(stateDir)?.log.lost ?? 0); i++) await sleep(100);
      const h = readHealth(stateDir)!;
      assert.equal(h.stoppedAt, undefined, 'still running');
      assert.match(h.log.error ?? '', /ENOSPC|no space/i);
      assert.ok(h.log.lost > 0);
      assert.match(weirIn('enforce', 'status'), /gateway: up since/);
      process.kill(h.pid, 'SIGTERM');
      for (let i = 0; i < 100 && readHealth(stateDir)?.stoppedAt === undefined; i++)
        await sleep(100);
      assert.match(
        weirIn('enforce', 'status'),
        /gateway: DOWN since .*stopped \(SIGTERM\)/,
        'a clean stop is reported too',
      );

      // 3. A flood of refused writes: none reaches the PLC, the flooding client is slowed, the HMI keeps polling.
      const floodLog = path.join(dir, 'flood.jsonl');
      await startGateway(floodLog);
      const hmiPoll = lab.spawn('hmi', process.execPath, [agent, 'poll', HOSTS.plc1, '20', '8']);
      const answered: number[] = [];
      hmiPoll.stdout!.on('data', (d: Buffer) =>
        answered.push(...d.toString().trim().split('\n').filter(Boolean).map(Number)),
      );
      const floodStart = Date.now();
      const flood = JSON.parse(
        lab.exec('historian', process.execPath, [agent, 'flood-writes', HOSTS.plc1, '20000', '6'], {
          timeoutMs: 60_000,
        }),
      ) as { answers: number; exceptions: number };
      await new Promise((r) => hmiPoll.once('close', r));
      assert.deepEqual(
        probe('hmi', 'read:5:1')[0]!.data,
        [60],
        `not one of the flooded writes reached the PLC (${JSON.stringify(flood)})`,
      );
      assert.equal(flood.answers, flood.exceptions, 'every answer is a refusal');
      const during = answered.filter((ms) => ms > floodStart && ms < floodStart + 6000).length;
      assert.ok(during > 60, `the HMI kept polling during the flood (${during} answers in 6 s)`);
      await sleep(300);
      const fe = events(floodLog);
      assert.ok(
        fe.some((e) => e.event === 'client_throttled' && e.client === HOSTS.historian),
        'the flooding client is throttled',
      );
      assert.ok(
        !fe.some((e) => e.event === 'client_throttled' && e.client === HOSTS.hmi),
        'the HMI is not',
      );
      process.stdout.write(
        `# flood: ${flood.answers} refusals answered in 6 s, HMI answers during the flood: ${during}\n`,
      );
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
