// `enforce apply` checks the ruleset with nft -c, then switches the running gateway, then loads the ruleset. When
// the kernel would refuse it, nothing is switched; when a load still fails after the switch, the host must not end
// split (the kernel on the old policy, the gateway and applied.json on the new one, which a gateway restart would
// also load): the gateway is switched back and the record put back (apply.ts switchBack). Either way the failed
// attempt is in the audit log. The gateway is the real `weir gateway` in a namespace of its own; the kernel refuses
// the ruleset when apply names a network namespace that does not exist, and a load fails after a passing check
// when an `nft` first on the PATH passes `nft -c` and listings to the real one but fails every load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** The lab of both tests: A approved, applied in namespace `ns` and run by a real gateway there. */
interface Lab {
  dir: string;
  stateDir: string;
  ns: string;
  auth: string[];
  db: string;
  h0: GatewayHealth;
  until(ok: (h: GatewayHealth) => boolean): Promise<GatewayHealth>;
}

const A = policy(1502),
  B = policy(1503);

async function withLab(
  t: { skip(m: string): void },
  body: (lab: Lab) => Promise<void>,
): Promise<void> {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root for a network namespace');
    return t.skip('needs root');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-apply-back-'));
  const stateDir = path.join(dir, 'state');
  const ns = `weir-ab-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
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
    // B is approved next.
    activate(store.db, B);
    await body({ dir, stateDir, ns, auth: store.auth, db: store.db, h0, until });
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
}

/** The failed attempt is audited as failed, with who and why, and A stays the only one applied. */
function assertAuditedFailure(db: string, why: RegExp): void {
  const s = openStore(db);
  try {
    const failed = listAudit(s).filter((e) => e.action === 'enforcement.applied.failed');
    assert.equal(failed.length, 1, 'the failed attempt is audited');
    assert.equal(failed[0]!.actor, 'root');
    assert.match(String(failed[0]!.details.error), why);
    assert.equal(
      listAudit(s).filter((e) => e.action === 'enforcement.applied').length,
      1,
      'and not as applied (A was)',
    );
  } finally {
    s.close();
  }
}

test(
  'a ruleset the kernel refuses switches nothing: gateway and record stay on the old policy, audited',
  { timeout: 90_000 },
  (t) =>
    withLab(t, async (lab) => {
      // The kernel B is loaded into cannot be reached.
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
        lab.stateDir,
        ...lab.auth,
      ]);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /nft refused the ruleset/);

      assert.equal(
        readApplied(lab.stateDir)?.sha,
        shaOf(A),
        'the applied record names the old policy',
      );
      await sleep(1000);
      const h = readHealth(lab.stateDir)!;
      assert.equal(h.policySha, shaOf(A), 'the gateway runs the old policy');
      // The ruleset is checked (nft -c) before the gateway is switched: a refused one switches nothing, so the
      // gateway's connections are never cut by a switch there and back (review 13, M7; a fleet site retries).
      assert.equal(h.reloads, lab.h0.reloads, 'the gateway was never switched');
      assert.deepEqual(
        h.targets.map((x) => x.port),
        [1502],
      );
      assertAuditedFailure(lab.db, /nft refused the ruleset/);
    }),
);

test(
  'a load that fails after a passing check switches the gateway and the record back to the old policy, audited',
  { timeout: 90_000 },
  (t) =>
    withLab(t, async (lab) => {
      // nft -c and listings reach the real nft; a load does not (the kernel went away, a module vanished, ...).
      const bin = path.join(lab.dir, 'bin');
      execFileSync('mkdir', ['-p', bin]);
      const real = execFileSync('sh', ['-c', 'command -v nft']).toString().trim();
      writeFileSync(
        path.join(bin, 'nft'),
        `#!/bin/sh\ncase " $* " in *" -c "*) ;; *" -f "*) echo "Error: injected load failure" >&2; exit 1;; esac\nexec ${real} "$@"\n`,
      );
      chmodSync(path.join(bin, 'nft'), 0o755);
      const r = await weir(
        [
          'enforce',
          'apply',
          '--family',
          'inet',
          '--netns',
          lab.ns,
          '--gateway-ip',
          '127.0.0.1',
          '--state-dir',
          lab.stateDir,
          ...lab.auth,
        ],
        { env: { PATH: `${bin}:${process.env.PATH}` } },
      );
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /injected load failure/);
      assert.match(r.stderr, /the gateway is back on policy/);

      assert.equal(
        readApplied(lab.stateDir)?.sha,
        shaOf(A),
        'the applied record names the old policy again',
      );
      // Switched to B (the check passed), then back to A when the kernel kept A.
      const h = await lab.until((x) => x.reloads >= lab.h0.reloads + 2);
      assert.equal(h.reloads, lab.h0.reloads + 2, 'switched there and back, once each');
      assert.equal(
        h.policySha,
        shaOf(A),
        'the gateway runs the old policy, which the kernel still runs',
      );
      assert.deepEqual(
        h.targets.map((x) => x.port),
        [1502],
      );
      assertAuditedFailure(lab.db, /injected load failure/);
    }),
);
