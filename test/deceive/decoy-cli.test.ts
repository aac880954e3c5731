// `weir decoy plan` on the bundled plant capture (no root needed): decoys cloned from the discovered PLCs, the
// same plan for the same instant, another after a rotation, a decoy address that normal traffic uses refused, and
// one a device of the inventory holds passed over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { weir, weirOk } from '../helpers/weir-cli.js';
import { activate, approvedStore } from '../helpers/approved-store.js';
import type { PlannedDecoy } from '../../src/deceive/plan.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

const POLICY = (pool: string): string => `weir: policy/1
timezone: UTC
assets:
  - { name: PLC-1, ip: 10.77.0.21 }
  - { name: PLC-2, ip: 10.77.0.22 }
zones:
  - { name: control, members: [10.77.0.0/24] }
decoys:
  - { name: plc-decoys, zone: control, addresses: [${pool}], active: 2, rotate: { every: 1d } }
`;

test('weir decoy plan: clones of the plant PLCs, stable within a period, moved by rotation; a used address refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-decoy-cli-'));
  try {
    const { db, auth } = await approvedStore(
      dir,
      POLICY('10.77.0.51, 10.77.0.52, 10.77.0.53, 10.77.0.54'),
    );
    await weirOk(['learn', plant, '--until', '50%', ...auth]);
    await weirOk(['discover', plant, '--db', db]);
    const plan = async (at: string): Promise<PlannedDecoy[]> =>
      JSON.parse(
        (await weirOk(['decoy', 'plan', '--db', db, '--state-dir', dir, '--at', at, '--json']))
          .stdout,
      ) as PlannedDecoy[];
    const a = await plan('2026-11-27T10:00:00Z');
    assert.equal(a.length, 2);
    for (const { identity: d } of a) {
      assert.ok(
        ['10.77.0.21', '10.77.0.22'].includes(d.clonedFrom!),
        `cloned from a PLC: ${d.clonedFrom}`,
      );
      const real = d.clonedFrom === '10.77.0.21' ? '42:82:6e' : '3a:f9:e8';
      assert.equal(d.mac.slice(0, 8), real, 'MAC in the clone’s OUI block');
      if (d.clonedFrom === '10.77.0.22') {
        assert.deepEqual(d.services, ['s7comm', 'http']);
        assert.equal(d.s7.orderNumber, '6ES7 315-2EH14-0AB0');
        assert.notEqual(d.serial, 'S C-C2UR28922012');
      } else {
        assert.deepEqual(d.services, ['modbus', 'http']);
        assert.equal(d.vendor, 'Weir Lab Automation');
      }
    }
    assert.deepEqual(await plan('2026-11-27T23:59:00Z'), a, 'the same decoys all period');
    const b = await plan('2026-11-28T00:01:00Z');
    assert.notDeepEqual(
      b.map((p) => [p.identity.ip, p.identity.serial, p.identity.mac]),
      a.map((p) => [p.identity.ip, p.identity.serial, p.identity.mac]),
      'a new period moves them',
    );
    const table = (await weirOk(['decoy', 'plan', '--db', db, '--state-dir', dir])).stdout;
    assert.match(table, /plc-decoys/);

    // 10.77.0.30 is the engineering workstation: a baseline flow uses it, so it can never be a decoy.
    activate(db, POLICY('10.77.0.30, 10.77.0.51'));
    const r = await weir(['decoy', 'plan', '--db', db, '--state-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /10\.77\.0\.30 is used by baseline flow 10\.77\.0\.30 → 10\.77\.0\.2[12] tcp\/(502|102)/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

    // 10.77.0.66 came up after the learning (the second half of the capture): not in the baseline, so the policy
    // may name it, but the inventory knows a device there and no decoy takes its address.
    activate(db, POLICY('10.77.0.51, 10.77.0.66'));
    const h = await weirOk(['decoy', 'plan', '--db', db, '--state-dir', dir, '--json']);
    assert.deepEqual(
      (JSON.parse(h.stdout) as PlannedDecoy[]).map((p) => p.identity.ip),
      ['10.77.0.51'],
    );
    assert.match(h.stderr, /10\.77\.0\.66 is held by [0-9a-f:]{17} in the inventory/);
    assert.match(h.stderr, /'plc-decoys' runs 1 of its 2 decoys/);

    // Change control refuses such a policy before anyone reviews it.
    writeFileSync(path.join(dir, 'bad.yaml'), POLICY('10.77.0.30, 10.77.0.52'));
    const s = await weir(['policy', 'submit', path.join(dir, 'bad.yaml'), ...auth]);
    assert.equal(s.code, 1, s.stdout);
    assert.match(s.stderr, /10\.77\.0\.30 is used by baseline flow/);

    // The whole capture, attack included, against the decoy policy: nothing reached a decoy.
    activate(db, POLICY('10.77.0.51, 10.77.0.52, 10.77.0.53, 10.77.0.54'));
    const d = await weirOk(['detect', plant, '--baseline', db, '--jsonl']);
    assert.doesNotMatch(d.stdout, /decoy_contact/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
