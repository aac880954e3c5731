import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { startPlcs } from '../lab/scenario.js';
import { agent, cli, GATEWAY_IP, labPolicyStore, plantPolicy, sleep } from './lab-kit.js';

const POLICY =
  plantPolicy(`  - { name: hmi-polls, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-1], protocol: modbus,
      functions: [read_coils, read_holding_registers, write_single_register], addresses: { holding_register: [0-99, 100], coil: [0-15] }, access: read-write }
  - { name: historian-reads, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: modbus, access: read-only }
  - { name: historian-s7, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-2], protocol: s7comm, access: read-only }
  - { name: ews, conduit: sup-ctl, clients: [EWS-1], servers: [PLC-1, PLC-2], ports: [502, 102], access: read-write }
`);

interface Probe {
  op: string;
  ok: boolean;
  data?: number[];
  error?: string;
  modbusCode?: number | null;
}

test(
  'enforcement lab: gateway checks Modbus per request, nftables stops scans and cuts blocked sources, faults fail open, removal restores',
  { timeout: 240_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the enforcement lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-enforce-'));
    // Enforce mode comes only from the approved policy, and every enforcement action is audited by a logged-in person.
    const source = await labPolicyStore(dir, POLICY);
    const auth = source;
    const lab = Plant.up();
    const stateDir = path.join(dir, 'state');
    const weirIn = (host: Parameters<Plant['exec']>[0], ...args: string[]): string =>
      lab.exec(host, process.execPath, [
        cli,
        ...args,
        ...(args[0] === 'enforce' ? ['--state-dir', stateDir] : []),
      ]);
    const probe = (host: Parameters<Plant['exec']>[0], ...ops: string[]): Probe[] =>
      lab
        .exec(host, process.execPath, [agent, 'probe', HOSTS.plc1, ...ops], { timeoutMs: 20_000 })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Probe);
    const startGateway = (log: string, ...extra: string[]): (() => Promise<void>) => {
      const c = lab.spawn('fw', process.execPath, [
        cli,
        'gateway',
        '--state-dir',
        stateDir,
        '--listen',
        GATEWAY_IP,
        '--log',
        log,
        ...extra,
      ]);
      let err = '';
      c.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      c.on('exit', (code) => {
        if (code) process.stderr.write(`gateway exited ${code}: ${err}\n`);
      });
      return () =>
        new Promise((r) => {
          c.once('close', () => r());
          c.kill('SIGTERM');
        });
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
      // Before enforcement the attacker reaches the PLC, and its closed ports answer.
      assert.equal(probe('attacker', 'read:0:2')[0]!.ok, true);

      const applied = weirIn(
        'fw',
        'enforce',
        'apply',
        ...source,
        '--family',
        'bridge',
        '--gateway-ip',
        GATEWAY_IP,
        '--bridge',
        'br0',
      );
      assert.match(applied, /loaded: .*enforcing control.*2 server\(s\) steered to the gateway/);
      assert.match(
        weirIn(
          'fw',
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
        /unchanged/,
      );
      const log = path.join(dir, 'gateway.jsonl');
      let stopGateway = startGateway(log);
      for (let i = 0; i < 300 && !events(log).some((e) => e.event === 'gateway_started'); i++)
        await sleep(100);
      assert.ok(
        events(log).some((e) => e.event === 'gateway_started'),
        'the gateway started',
      );

      // Allowed reads pass through the gateway; a write outside the HMI's addresses gets Illegal Data Address.
      const hmi = probe('hmi', 'read:0:3', 'coils:0:4', 'write:100:7', 'write:150:1');
      assert.deepEqual(
        hmi.map((r) => r.ok),
        [true, true, true, false],
        JSON.stringify(hmi),
      );
      assert.deepEqual(
        hmi[0]!.data,
        [10, 20, 30],
        'values come from the real PLC (pymodbus counts from 1)',
      );
      assert.equal(hmi[3]!.modbusCode, 2);
      // The historian may only read: its write is refused with Illegal Function and logged.
      const hist = probe('historian', 'read:0:2', 'write:5:99');
      assert.equal(hist[0]!.ok, true);
      assert.equal(hist[1]!.ok, false);
      assert.equal(hist[1]!.modbusCode, 1);
      assert.deepEqual(
        probe('hmi', 'read:5:1')[0]!.data,
        [60],
        'the refused write never reached the PLC',
      );
      await sleep(200);
      const denied = events(log).filter((e) => e.event === 'denied');
      assert.ok(
        denied.some(
          (e) => e.client === HOSTS.historian && e.func === 6 && e.reason === 'write_not_allowed',
        ),
        JSON.stringify(denied),
      );
      assert.ok(denied.some((e) => e.client === HOSTS.hmi && e.reason === 'address_not_allowed'));
      // S7comm through the same gateway: the historian reads DB1, its write is dropped and logged.
      const s7 = lab
        .exec(
          'historian',
          process.execPath,
          [agent, 's7probe', HOSTS.plc2, 'read:1:0:4', 'write:1:8:99'],
          { timeoutMs: 30_000 },
        )
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Probe);
      assert.deepEqual(s7[0], { op: 'read:1:0:4', ok: true, data: [0, 1, 2, 3] });
      assert.equal(s7[1]!.ok, false, JSON.stringify(s7));
      const s7after = lab
        .exec('ews', process.execPath, [agent, 's7probe', HOSTS.plc2, 'read:1:8:1'], {
          timeoutMs: 30_000,
        })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Probe);
      assert.deepEqual(s7after[0]!.data, [8], 'DB1.DBB8 is unchanged');
      await sleep(200);
      assert.ok(
        events(log).some(
          (e) =>
            e.event === 'denied' &&
            e.client === HOSTS.historian &&
            e.protocol === 's7comm' &&
            e.reason === 'write_not_allowed',
        ),
        'S7 write denial logged',
      );
      // A host with no context group does not get a connection at all.
      assert.equal(probe('attacker', 'read:0:2')[0]!.ok, false);
      await sleep(200);
      assert.ok(
        events(log).some((e) => e.event === 'connection_refused' && e.client === HOSTS.attacker),
      );

      // A temporary permit lets the attacker's host reach the PLC past the groups and the gateway, until it expires.
      // 8 s: the probe starts a Node agent in the namespace, which a loaded machine can slow to seconds.
      weirIn('fw', 'permit', HOSTS.attacker, HOSTS.plc1, 'tcp/502', '--ttl', '8s', ...auth);
      const permittedAt = Date.now();
      assert.equal(probe('attacker', 'read:0:2')[0]!.ok, true, 'permitted');
      await sleep(Math.max(0, permittedAt + 8500 - Date.now()));
      assert.equal(probe('attacker', 'read:0:2')[0]!.ok, false, 'the permit expired');

      // A port scan from the attacker meets nothing but drops.
      const scan = lab.exec(
        'attacker',
        'nmap',
        ['-n', '-Pn', '-sS', '-p', '1-200', '--max-retries', '0', '-T4', HOSTS.plc1],
        { timeoutMs: 60_000 },
      );
      assert.match(scan, /200 filtered/, scan);
      const st = JSON.parse(weirIn('fw', 'enforce', 'status', '--json')) as {
        counters: Array<{ rule: string; packets: number }>;
      };
      assert.ok(
        st.counters.find((c) => c.rule === 'enforce: drop')!.packets >= 200,
        'the scan hit the enforce drop rule',
      );

      // Blocking a polling source cuts it within 50 ms.
      // It polls for 10 s: a slow start of the agent must not leave too little polling before the block.
      const poller = lab.spawn('hmi', process.execPath, [agent, 'poll', HOSTS.plc1, '5', '10']);
      const answers: number[] = [];
      poller.stdout!.on('data', (d: Buffer) =>
        answers.push(...d.toString().trim().split('\n').filter(Boolean).map(Number)),
      );
      for (let i = 0; i < 80 && answers.length <= 20; i++) await sleep(100);
      assert.ok(answers.length > 20, `polling runs (${answers.length} answers)`);
      const before = Date.now();
      weirIn('fw', 'block', HOSTS.hmi, '--ttl', '60s', ...auth);
      const blockedAt = Date.now();
      await new Promise((r) => poller.once('close', r));
      const last = Math.max(...answers);
      assert.ok(
        last <= blockedAt + 50,
        `last answer ${last - blockedAt} ms after the block took effect (command took ${blockedAt - before} ms)`,
      );
      assert.match(
        weirIn('fw', 'enforce', 'status'),
        new RegExp(`blocked sources: ${HOSTS.hmi.replace(/\./g, '\\.')}`),
      );
      weirIn('fw', 'unblock', HOSTS.hmi, ...auth);
      assert.equal(probe('hmi', 'read:0:1')[0]!.ok, true, 'unblocked again');

      // A fault in inspection: traffic passes (even what policy would refuse) and the window is logged.
      await stopGateway();
      const faultLog = path.join(dir, 'gateway-fault.jsonl');
      // The switch is refused without the test environment (test/cli/gateway-fault-switch.test.ts).
      process.env.WEIR_TEST_FAULTS = '1';
      stopGateway = startGateway(faultLog, '--inject-fault', 'throw');
      delete process.env.WEIR_TEST_FAULTS;
      for (let i = 0; i < 300 && !events(faultLog).some((e) => e.event === 'gateway_started'); i++)
        await sleep(100);
      assert.ok(
        events(faultLog).some((e) => e.event === 'gateway_started'),
        'the gateway started',
      );
      const failed = probe('historian', 'read:0:2', 'write:6:42');
      assert.deepEqual(
        failed.map((r) => r.ok),
        [true, true],
        JSON.stringify(failed),
      );
      await sleep(1500);
      const fo = events(faultLog).filter((e) => e.event === 'fail_open');
      // Each window names the client and server whose PDUs passed unchecked, and how many (item 8).
      assert.ok(
        fo.some(
          (e) => e.phase === 'start' && e.client === HOSTS.historian && e.server === HOSTS.plc1,
        ),
        JSON.stringify(fo),
      );
      assert.ok(
        fo.some(
          (e) =>
            e.phase === 'end' &&
            e.client === HOSTS.historian &&
            e.port === 502 &&
            Number(e.pdus_unchecked) >= 2,
        ),
        JSON.stringify(fo),
      );
      assert.ok(
        !fo.some((e) => e.client === HOSTS.hmi),
        'the HMI sent nothing in that time: no window for it',
      );
      await stopGateway();

      // Removing the ruleset restores the plant as it was: the attacker reaches the PLC again.
      assert.match(weirIn('fw', 'enforce', 'remove', ...auth), /removed/);
      assert.equal(probe('attacker', 'read:0:2')[0]!.ok, true);
      const scan2 = lab.exec(
        'attacker',
        'nmap',
        ['-n', '-Pn', '-sS', '-p', '1-200', '--max-retries', '0', '-T4', HOSTS.plc1],
        { timeoutMs: 60_000 },
      );
      assert.match(scan2, /closed/);
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
