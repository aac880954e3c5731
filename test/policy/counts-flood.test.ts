import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spoofedSourcesPcap, writeCapture } from '../helpers/hostile-captures.js';
import { weir } from '../helpers/weir-cli.js';

const ALLOW_NOTHING = 'weir: policy/1\nsite: t\ntimezone: UTC\nzones:\n  - name: plant\n    members: [ 0.0.0.0/0 ]\n    mode: observe\n    internal: restrict\n    approvals: [ security ]\n';

test('a flood of forged senders: simulate and drift count every flow, show a readable part, and say how many more', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-counts-flood-'));
  try {
    const capture = writeCapture(path.join(dir, 'spoofed.pcap'), spoofedSourcesPcap(6000));
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, ALLOW_NOTHING);

    const sim = await weir(['policy', 'simulate', policy, '--capture', capture]);
    assert.equal(sim.code, 0, sim.stderr);
    assert.match(sim.stdout, /^6000 flows would break/);
    const table = sim.stdout.split('\n').filter((l) => l.startsWith('plant '));
    assert.equal(table.length, 5000, 'the table stops at 5000 rows');
    assert.match(sim.stdout, /\n… 1000 more rows not shown \(--json lists them all\)\n/);

    const drift = await weir(['policy', 'drift', policy, '--capture', capture]);
    assert.equal(drift.code, 2);
    assert.match(drift.stdout, /^6000 flows run that the policy does not allow/);
    assert.equal(drift.stdout.split('\n').filter((l) => /^ {2}(critical|high|medium|low) /.test(l)).length, 20);
    assert.match(drift.stdout, /… 5980 more rows \(--json lists them all\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
