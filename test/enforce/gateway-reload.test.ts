// How `enforce apply` learns whether a running gateway took a new policy: the health record's reload count
// and error. A failed reload (here: an applied record whose text does not match its hash) is reported, keeps
// the old policy, and a later good reload clears it — an old failure never answers for a new signal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { readHealth, writeApplied, type GatewayHealth } from '../../src/enforce/state.js';
import { canBuildLab } from '../lab/plant.js';
import { cli, sleep } from './lab-kit.js';

const policy = (port: number): string => `weir: policy/1
zones:
  - { name: sup, members: [127.0.0.1], mode: monitor }
  - { name: ctl, members: [127.0.0.2], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [127.0.0.1], servers: [127.0.0.2], protocol: modbus, ports: [${port}], access: read-only }
`;
const shaOf = (text: string): string => {
  const r = parsePolicy(text, 'p.yaml');
  assert.ok(r.ok);
  return policyHashes(r.policy, text).sha;
};

test(
  'a gateway reload answers through its health record: a failed one is reported and keeps the old policy',
  { timeout: 60_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root for a network namespace');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-reload-'));
    // Its own namespace: the gateway's heartbeat talks to nftables, and must not touch the host's.
    const ns = `weir-rl-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const apply = (text: string, sha = shaOf(text)): void =>
      writeApplied(dir, {
        sha,
        source: 'p.yaml',
        text,
        appliedAt: new Date().toISOString(),
        actor: 'test',
        family: 'inet',
        gatewayIp: '127.0.0.1',
      });
    const health = (): GatewayHealth => readHealth(dir)!;
    const until = async (ok: (h: GatewayHealth) => boolean): Promise<GatewayHealth> => {
      for (let i = 0; i < 100; i++) {
        const h = readHealth(dir);
        if (h !== null && ok(h)) return h;
        await sleep(50);
      }
      throw new Error(`gateway health never matched: ${JSON.stringify(readHealth(dir))}`);
    };
    const first = policy(1502),
      second = policy(1503);
    apply(first);
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
      ],
      { stdio: 'ignore' },
    );
    try {
      const h0 = await until((h) => h.targets.length === 1);
      assert.equal(h0.reloads, 0);
      assert.equal(h0.policySha, shaOf(first));
      // A record whose text was changed after hashing: the gateway refuses it and keeps what it runs.
      apply(second, shaOf(first));
      process.kill(h0.pid, 'SIGHUP');
      const h1 = await until((h) => h.reloads === 1);
      assert.match(h1.reloadError ?? '', /does not match its hash/);
      assert.equal(h1.policySha, shaOf(first));
      assert.deepEqual(
        h1.targets.map((x) => x.port),
        [1502],
      );
      // A good record: the next reload takes it and clears the error.
      apply(second);
      process.kill(h0.pid, 'SIGHUP');
      const h2 = await until((h) => h.reloads === 2);
      assert.equal(h2.reloadError, null);
      assert.equal(h2.policySha, shaOf(second));
      assert.deepEqual(
        health().targets.map((x) => x.port),
        [1503],
      );
    } finally {
      gw.kill('SIGTERM');
      await new Promise((r) => gw.once('close', r));
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
