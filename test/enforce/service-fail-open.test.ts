// Fail-open by the service manager: the gateway as systemd runs it (notify socket, watchdog) is killed -9 with a
// long steering lease; the unit's ExecStopPost (`weir enforce unsteer`) drops the lease at once instead of
// letting steered traffic wait for the lease to lapse, and `enforce status` says why the gateway is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { gatewayTargets } from '../../src/enforce/steer.js';
import { applyRuleset, status } from '../../src/enforce/nft.js';
import { readHealth, writeApplied } from '../../src/enforce/state.js';
import { canBuildLab } from '../lab/plant.js';
import { notifySocket, until } from '../helpers/notify-socket.js';
import { weir } from '../helpers/weir-cli.js';
import { cli } from './lab-kit.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [127.0.0.1], mode: monitor }
  - { name: ctl, members: [127.0.0.2], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [127.0.0.1], servers: [127.0.0.2], protocol: modbus, ports: [1502], access: read-only }
`;

test(
  'a gateway killed -9 under its unit: the stop hook drops its 30 s steering lease at once',
  { timeout: 90_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root for a network namespace');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-svc-'));
    const ns = `weir-svc-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const target = { family: 'inet' as const, netns: ns };
    // A path socket: abstract unix sockets belong to a network namespace, files do not.
    const sock = notifySocket(path.join(dir, 'notify'));
    let gw: ReturnType<typeof spawn> | null = null;
    try {
      const parsed = parsePolicy(POLICY, 'p.yaml');
      assert.ok(parsed.ok);
      const cp = new CompiledPolicy(parsed.policy);
      applyRuleset(
        target,
        compileRuleset(cp, {
          family: 'inet',
          steer: { gatewayIp: '127.0.0.1', targets: gatewayTargets(cp, '127.0.0.1') },
        }),
      );
      writeApplied(dir, {
        sha: policyHashes(parsed.policy, POLICY).sha,
        source: 'p.yaml',
        text: POLICY,
        appliedAt: new Date().toISOString(),
        actor: 'test',
        family: 'inet',
        gatewayIp: '127.0.0.1',
      });
      const settings = path.join(dir, 'weir.yaml');
      writeFileSync(
        settings,
        'weir: settings/1\ngateway:\n  lease_ms: 30000\n  heartbeat_ms: 1000\n',
      );
      await sock.bound;
      gw = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          process.execPath,
          cli,
          'gateway',
          '--listen',
          '127.0.0.1',
          '--family',
          'inet',
          '--state-dir',
          dir,
        ],
        {
          env: {
            ...process.env,
            WEIR_CONFIG: settings,
            NOTIFY_SOCKET: path.join(dir, 'notify'),
            WATCHDOG_USEC: '1000000',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let err = '';
      gw.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await until(
        `READY=1 from the gateway (${err})`,
        () => sock.got.some((m) => m.includes('READY=1')),
        30_000,
      );
      assert.match(
        sock.got.find((m) => m.includes('READY=1'))!,
        /STATUS=gateway on 127\.0\.0\.1, 1 steered server port/,
      );
      await until('a watchdog ping', () => sock.got.includes('WATCHDOG=1'));
      await until('the steering lease held', () => status(target).live.length === 1, 10_000);

      const pid = readHealth(dir)!.pid;
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => gw!.once('close', r));
      gw = null;
      // Without the hook the lease would hold for up to 30 s more: steered traffic would wait for a dead gateway.
      assert.equal(status(target).live.length, 1, 'the lease outlives the gateway by itself');
      const hook = await weir(
        ['enforce', 'unsteer', '--family', 'inet', '--netns', ns, '--state-dir', dir],
        {
          env: { SERVICE_RESULT: 'signal', EXIT_CODE: 'killed', EXIT_STATUS: 'KILL' },
        },
      );
      assert.equal(hook.code, 0, hook.stderr);
      assert.equal(JSON.parse(hook.stdout).leases_dropped, 1);
      const after = status(target);
      assert.equal(after.live.length, 0, 'steering ended by the stop hook');
      assert.ok(after.steered.length > 0, 'the rules stay loaded for the restarted gateway');
      const st = await weir([
        'enforce',
        'status',
        '--family',
        'inet',
        '--netns',
        ns,
        '--state-dir',
        dir,
      ]);
      assert.match(st.stdout, /stopped by the service manager \(signal, killed KILL\)/);
      assert.match(st.stdout, /reached directly: traffic passing uninspected/);
      assert.match(readFileSync(path.join(dir, 'gateway.json'), 'utf8'), /service manager/);
    } finally {
      gw?.kill('SIGKILL');
      sock.stop();
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
