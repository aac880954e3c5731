// `--inject-fault` (test only, WEIR_TEST_FAULTS=1) makes every PDU pass uninspected. Whoever can edit the
// service's environment can set it, so it must show where people look, not only on the gateway's stderr: in
// its health record, `weir enforce status`, the dashboard's enforcement view and the site's health for the
// manager's sites page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';
import {
  describeGateway,
  gatewayState,
  gatewaySummary,
  readHealth,
  writeApplied,
  type GatewayHealth,
} from '../../src/enforce/state.js';
import { enforcementView } from '../../src/server/enforcement-view.js';
import { canBuildLab } from '../lab/plant.js';
import { cli, sleep } from './lab-kit.js';

const TEXT = `weir: policy/1
zones:
  - { name: sup, members: [127.0.0.1], mode: monitor }
  - { name: ctl, members: [127.0.0.2], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [127.0.0.1], servers: [127.0.0.2], protocol: modbus, ports: [1512], access: read-only }
`;

test(
  'a gateway started with --inject-fault says so in its health record, enforce status and the dashboard',
  { timeout: 60_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root for a network namespace');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-fault-visible-'));
    // Its own namespace: the gateway's heartbeat talks to nftables, and must not touch the host's.
    const ns = `weir-fv-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const r = parsePolicy(TEXT, 'p.yaml');
    assert.ok(r.ok);
    const sha = policyHashes(r.policy, TEXT).sha;
    writeApplied(dir, {
      sha,
      source: 'p.yaml',
      text: TEXT,
      appliedAt: new Date().toISOString(),
      actor: 'test',
      family: 'inet',
      gatewayIp: '127.0.0.1',
    });
    const gw = spawn(
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
        '--state-dir',
        dir,
        '--log',
        path.join(dir, 'gw.jsonl'),
        '--inject-fault',
        'throw',
      ],
      { stdio: 'ignore', env: { ...process.env, WEIR_TEST_FAULTS: '1' } },
    );
    try {
      let h: GatewayHealth | null = null;
      for (let i = 0; i < 100 && (h === null || h.targets.length === 0); i++) {
        await sleep(50);
        h = readHealth(dir);
      }
      assert.ok(h !== null && h.targets.length === 1, JSON.stringify(h));
      assert.equal(h.testFault, 'throw', 'the health record carries the switch');
      // Whatever state the steering is in (no Weir table in this namespace), people are told.
      const said = /TEST FAULT INJECTION ON \(throw\): every PDU passes uninspected/;
      assert.match(describeGateway(gatewayState(dir)), said);
      const view = enforcementView(dir, sha);
      assert.equal(view.gateway.state === 'none' ? null : view.gateway.testFault, 'throw');
      assert.match(view.text, said);
      assert.match(gatewaySummary(gatewayState(dir)), /TEST FAULT INJECTION ON/);
    } finally {
      gw.kill('SIGTERM');
      await new Promise((res) => gw.once('close', res));
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
