import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { listBaselines } from '../../src/store/baseline-store.js';
import { guardBlock } from '../../src/respond/block-impact.js';
import { repoRoot } from '../helpers/paths.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';
import { activate } from '../helpers/approved-store.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');
const identity = path.join(repoRoot, 'fixtures/identity.pcap');

// The review's sim.mjs: the control zone in simulate, a policy that blocks the historian's flows to the PLC.
const POLICY = (mode: string): string => `weir: policy/1
zones:
  - { name: sup, members: [10.77.0.40], mode: monitor }
  - { name: ctl, members: [10.77.0.21], mode: ${mode}, simulation_window: 30s }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: other-hmi, conduit: c, clients: [10.77.0.99], servers: [10.77.0.21], protocol: modbus }
`;

function inStore<T>(db: string, fn: (d: ReturnType<typeof openStore>) => T): T {
  const d = openStore(db);
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

test("the protecting baseline: learned only by a proven person (audited), and the only one a store's evidence is judged against", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-baseline-evidence-'));
  try {
    const real = path.join(dir, 'real.db'),
      other = path.join(dir, 'other.db');
    // A store nobody can log in to yet is being set up: learning is open there (and on the record).
    await weirOk(['learn', plant, '--db', real, '--create', '--note', 'week 47, reviewed']);
    await weirOk(['learn', identity, '--db', other, '--create']);
    const root = await person(real, dir, 'root', ['admin'], { admin: '' });
    const tok: Record<string, string> = {};
    for (const [n, r] of [
      ['mallory', 'security'],
      ['sam', 'security'],
      ['eve', 'engineering'],
      ['otto', 'operations'],
      ['ana', 'analyst'],
      ['vera', 'viewer'],
    ] as const)
      tok[n] = await person(real, dir, n, [r], { admin: root });
    const as = (n: string): string[] => ['--db', real, '--token-file', tok[n]!];

    // F9: with people in the store, a new baseline needs one of them, proven, allowed to curate it.
    let r = await weir(['learn', identity, '--db', real, '--note', 'no login']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /this changes the store, so it needs a logged-in person/);
    r = await weir(['learn', identity, '--note', 'viewer', ...as('vera')]);
    assert.match(r.stderr, /vera \(viewer\) may not learn baselines/);
    assert.deepEqual(
      inStore(real, (d) => listBaselines(d).map((b) => b.version)),
      [1],
      'no baseline written by the refused runs',
    );
    const cutsBefore = inStore(real, (d) => guardBlock(d, '10.77.0.21', false));
    assert.match(cutsBefore.refusal ?? '', /cuts \d+ baseline flow/);

    // F6: evidence recorded in a store is judged against that store's own baseline, never another's.
    activate(real, POLICY('simulate'));
    writeFileSync(path.join(dir, 'p.yaml'), POLICY('enforce'));
    const p = path.join(dir, 'p.yaml');
    await weirOk(['policy', 'promote', 'ctl', 'enforce', ...as('mallory')]);
    for (const [n, role] of [
      ['sam', 'security'],
      ['eve', 'engineering'],
      ['otto', 'operations'],
    ] as const)
      await weirOk(['policy', 'approve', '1', '--role', role, ...as(n)]);
    r = await weir([
      'policy',
      'simulate',
      p,
      '--capture',
      plant,
      '--baseline',
      other,
      ...as('mallory'),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /evidence recorded in .*real\.db is judged against that store's own baseline: leave out --baseline/,
    );
    // Without --baseline, --db's own baseline is the one the replay uses.
    const honest = await weirOk(['policy', 'simulate', p, '--capture', plant, ...as('mallory')]);
    assert.match(honest.stdout, /recorded as sim-[0-9a-f]{12}/);
    r = await weir(['policy', 'apply', '1', ...as('sam')]);
    assert.match(r.stderr, /zone ctl: simulation sim-[0-9a-f]{12} blocks \d+ baseline flow\(s\)/);

    // F9 again: an analyst learns a harmless capture as the newest baseline — allowed, but proven and audited,
    // with what it leaves out of normal said on the spot.
    r = await weirOk(['learn', identity, '--note', 'short capture', ...as('ana')]);
    assert.match(r.stdout, /^baseline v2: /);
    assert.match(
      r.stderr,
      /warning: baseline v2 leaves out \d+ of the \d+ flows baseline v1 held as normal/,
    );
    inStore(real, (d) => {
      const learned = listAudit(d).filter((e) => e.action === 'baseline.learned');
      assert.deepEqual(
        learned.map((e) => [e.actor, e.subject, e.details.note]),
        [
          [`os:${userInfo().username}`, 'baseline v1', 'week 47, reviewed'],
          ['ana', 'baseline v2', 'short capture'],
        ],
      );
      assert.ok((learned[1]!.details.dropped_flows as number) > 0);
      assert.equal(learned[1]!.details.previous_version, 1);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
