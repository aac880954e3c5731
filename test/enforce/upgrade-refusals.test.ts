// A newer build of Weir may refuse traffic classes an older one passed (stacked VLANs, IPv6 in review 12): the
// same approved policy, re-applied after an upgrade, then drops what it was never simulated with (review 12b,
// B10). The apply compares with what the policy ran with before, says so on stderr and audits it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { appliedFile } from '../../src/enforce/state.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { canBuildLab } from '../lab/plant.js';

const TEXT = `weir: policy/1
timezone: UTC
zones:
  - { name: a, members: [10.77.0.0/28], mode: monitor }
  - { name: b, members: [10.77.0.21], mode: enforce, simulation_window: 1m }
conduits: [{ name: ab, from: a, to: b }]
groups:
  - { name: g, conduit: ab, clients: [10.77.0.10], servers: [10.77.0.21], ports: [502], access: read-write }
`;

test('re-applying a policy after an upgrade names the refusals it did not run with before (review 12b, B10)', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-upg-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-upg-'));
  execFileSync('ip', ['netns', 'add', ns]);
  const backend = new NftBackend({ family: 'inet', netns: ns }, dir);
  try {
    const r = parsePolicy(TEXT, 'p.yaml');
    assert.ok(r.ok);
    const req = {
      source: {
        policy: r.policy,
        text: TEXT,
        source: 'p.yaml',
        sha: policyHashes(r.policy, TEXT).sha,
      },
      actor: 'test',
      gatewayIp: null,
      bridgeMac: () => '',
      portLevelOk: true,
      dryRun: false,
    };
    const first = await backend.apply(req);
    assert.deepEqual(first.newRefusals, [], 'nothing ran before');
    const ipv6 = first.ruleset.refused.find((x) => /IPv6/.test(x))!;
    assert.ok(ipv6, 'this build refuses IPv6 while a zone enforces');
    assert.deepEqual(
      (await backend.apply(req)).newRefusals,
      [],
      'the same build again: nothing new',
    );
    // As an older build recorded it: without the IPv6 refusal.
    const rec = JSON.parse(readFileSync(appliedFile(dir), 'utf8')) as { refused: string[] };
    rec.refused = rec.refused.filter((x) => x !== ipv6);
    writeFileSync(appliedFile(dir), JSON.stringify(rec));
    assert.deepEqual((await backend.apply(req)).newRefusals, [ipv6]);
    // A record of a build before this check holds no list: every refusal is named.
    const older = JSON.parse(readFileSync(appliedFile(dir), 'utf8')) as { refused?: string[] };
    delete older.refused;
    writeFileSync(appliedFile(dir), JSON.stringify(older));
    assert.deepEqual(
      (await backend.apply(req)).newRefusals,
      first.ruleset.refused.filter((x) => x.startsWith('refused: ')),
    );
  } finally {
    backend.close();
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
