// `enforce apply` checks the ruleset with nft -c, then switches the running gateway, then loads the ruleset. When
// the kernel would refuse it, nothing is switched; when a load still fails after the switch, the host must not end
// split (the kernel on the old policy, the gateway and applied.json on the new one, which a gateway restart would
// also load): the gateway is switched back and the record put back (apply.ts switchBack). Either way the failed
// attempt is in the audit log. The gateway is the real `weir gateway` in a namespace of its own; the kernel load is
// made to fail by naming a network namespace that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { readApplied, readHealth, type GatewayHealth } from '../../src/enforce/state.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { activate, approvedStore } from '../helpers/approved-store.js';
import { weir, weirOk } from '../helpers/weir-cli.js';
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
  'a failed kernel load puts the gateway and the applied record back on the old policy, audited',
  { timeout: 90_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root for a network namespace');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-apply-back-'));
    const stateDir = path.join(dir, 'state');
    const ns = `weir-ab-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const A = policy(1502),
      B = policy(1503);
    const until = async (ok: (h: GatewayHealth) => boolean): Promise<GatewayHealth> => {
      for (let i = 0; i < 200; i++) {
        const h = readHealth(stateDir);
        if (h !== null && ok(h)) return h;
        await sleep(50);
      }
      throw new Error(`gateway health never matched: ${JSON.stringify(readHealth(stateDir))}`);
    };
    let gw: ChildProcess | null = null;
    try {
      // A is approved and loaded in the namespace's kernel, steering to the gateway started next.
      const store = await approvedStore(dir, A);
      await weirOk([
        'enforce',
        'apply',
        '--family',
        'inet',
        '--netns',
        ns,
        '--gateway-ip',
        '127.0.0.1',
        '--state-dir',
        stateDir,
        ...store.auth,
      ]);
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
          '--state-dir',
          stateDir,
          '--log',
          path.join(dir, 'gw.jsonl'),
        ],
        { stdio: 'ignore' },
      );
      const h0 = await until((h) => h.targets.length === 1 && h.steering.ok);
      assert.equal(h0.policySha, shaOf(A));
      // B is approved next; the kernel it is loaded into cannot be reached.
      activate(store.db, B);
      const r = await weir([
        'enforce',
        'apply',
        '--family',
        'inet',
        '--netns',
        `weir-none-${randomBytes(3).toString('hex')}`,
        '--gateway-ip',
        '127.0.0.1',
        '--state-dir',
        stateDir,
        ...store.auth,
      ]);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /nft refused the ruleset/);

      assert.equal(readApplied(stateDir)?.sha, shaOf(A), 'the applied record names the old policy');
      await sleep(1000);
      const h = readHealth(stateDir)!;
      assert.equal(h.policySha, shaOf(A), 'the gateway runs the old policy');
      // The ruleset is checked (nft -c) before the gateway is switched: a refused one switches nothing, so the
      // gateway's connections are never cut by a switch there and back (review 13, M7; a fleet site retries).
      assert.equal(h.reloads, h0.reloads, 'the gateway was never switched');
      assert.deepEqual(
        h.targets.map((x) => x.port),
        [1502],
      );
      const db = openStore(store.db);
      try {
        const failed = listAudit(db).filter((e) => e.action === 'enforcement.applied.failed');
        assert.equal(failed.length, 1, 'the failed attempt is audited');
        assert.equal(failed[0]!.actor, 'root');
        assert.match(String(failed[0]!.details.error), /nft refused the ruleset/);
        assert.equal(
          listAudit(db).filter((e) => e.action === 'enforcement.applied').length,
          1,
          'and not as applied (A was)',
        );
      } finally {
        db.close();
      }
    } finally {
      if (gw !== null) {
        gw.kill('SIGTERM');
        await new Promise((r) => gw!.once('close', r));
      }
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
