// The service manager's stop/failure hook: `weir enforce unsteer` drops the gateway's leases at once, so plant
// traffic goes direct while the gateway is down, and leaves every allowlist and block in force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset, TABLE } from '../../src/enforce/nft-ruleset.js';
import { gatewayTargets } from '../../src/enforce/steer.js';
import { applyRuleset, blockSource, status } from '../../src/enforce/nft.js';
import { canBuildLab } from '../lab/plant.js';
import { weir } from '../helpers/weir-cli.js';

const POLICY = `weir: policy/1
timezone: UTC
zones:
  - { name: sup, members: [10.77.0.0/28], mode: monitor }
  - { name: ctl, members: [10.77.0.21], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [10.77.0.10], servers: [10.77.0.21], protocol: modbus, functions: [3], access: read-only }
`;

test('weir enforce unsteer drops the gateway leases, keeps the rules and blocks, and records why', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-unst-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-unsteer-'));
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const r = parsePolicy(POLICY, 'p.yaml');
    assert.ok(r.ok);
    const cp = new CompiledPolicy(r.policy);
    const targets = gatewayTargets(cp, '10.77.0.2');
    assert.ok(targets.length > 0);
    const target = { family: 'bridge' as const, netns: ns };
    applyRuleset(
      target,
      compileRuleset(cp, {
        family: 'bridge',
        steer: { gatewayIp: '10.77.0.2', targets },
        bridgeMac: '02:00:00:00:00:01',
      }),
    );
    blockSource(target, '10.77.0.66', 300);
    // The leases a running gateway holds (what its heartbeat writes).
    const t0 = targets[0]!;
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'nft',
      `add element bridge ${TABLE} gw_live { ${t0.server} . ${t0.port} timeout 60s }; add element ip ${TABLE} gw_port { ${t0.server} . ${t0.port} timeout 60s : 40000 }`,
    ]);
    assert.equal(status(target).live.length, 1);
    // A gateway that crashed: its record says up, its process is gone.
    writeFileSync(
      path.join(dir, 'gateway.json'),
      JSON.stringify({
        pid: 2 ** 22 + 1,
        startedAt: 'x',
        beatAt: new Date().toISOString(),
        listen: '10.77.0.2',
        policySha: 'x',
        policySource: 'x',
        targets: [],
        steering: { ok: true, error: null },
        reloads: 0,
        reloadError: null,
        stats: {},
        failOpenOpen: 0,
        log: { lost: 0, error: null },
      }),
    );
    const out = await weir(['enforce', 'unsteer', '--netns', ns, '--state-dir', dir], {
      env: { SERVICE_RESULT: 'watchdog', EXIT_CODE: 'killed', EXIT_STATUS: 'ABRT' },
    });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), {
      event: 'gateway_unsteered',
      leases_dropped: 1,
      reason: 'stopped by the service manager (watchdog, killed ABRT)',
    });
    const after = status(target);
    assert.equal(after.live.length, 0, 'no lease: steered traffic goes direct');
    assert.ok(after.steered.length > 0, 'the steering rules stay, waiting for the gateway');
    assert.deepEqual(
      after.blocked.map((b) => b.ip),
      ['10.77.0.66'],
      'blocks stay',
    );
    const rec = JSON.parse(readFileSync(path.join(dir, 'gateway.json'), 'utf8')) as {
      stopReason: string;
    };
    assert.match(rec.stopReason, /service manager \(watchdog/);
    // Again, with nothing held, and on a host with nothing loaded at all: a no-op, not an error.
    const again = await weir(['enforce', 'unsteer', '--netns', ns, '--state-dir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).leases_dropped, 0);
    execFileSync('ip', ['netns', 'exec', ns, 'nft', 'flush', 'ruleset']);
    const none = await weir(['enforce', 'unsteer', '--netns', ns, '--state-dir', dir]);
    assert.equal(none.code, 0, none.stderr);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
