import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';
import { activate } from '../helpers/approved-store.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

// Every flow the control zone carried while learning is allowed: an honest replay of the plant cuts none.
const POLICY = (mode: string): string => `weir: policy/1
zones:
  - { name: sup, members: [10.77.0.10, 10.77.0.30, 10.77.0.40], mode: monitor, approvals: [security] }
  - { name: ctl, members: [10.77.0.21, 10.77.0.22], mode: ${mode}, approvals: [security, engineering], simulation_window: 30s }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: modbus, conduit: c, clients: [10.77.0.10, 10.77.0.30, 10.77.0.40], servers: [10.77.0.21], protocol: modbus, access: read-write }
  - { name: s7, conduit: c, clients: [10.77.0.30, 10.77.0.40], servers: [10.77.0.22], protocol: s7comm, access: read-write }
`;

/**
 * The frames of a classic pcap (Ethernet, IPv4) that `keep` picks by index among those of one TCP flow: a
 * replay that spans the capture with a handful of packets of a single flow.
 */
function sparse(file: string, out: string, client: string, server: string, port: number): void {
  const buf = readFileSync(file);
  const ip = (s: string): Buffer => Buffer.from(s.split('.').map(Number));
  const frames: Buffer[] = [];
  for (let o = 24; o + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(o + 8);
    const f = buf.subarray(o, o + 16 + len);
    const d = f.subarray(16);
    if (
      d.length >= 38 &&
      d.readUInt16BE(12) === 0x0800 &&
      d[23] === 6 &&
      d.subarray(26, 30).equals(ip(client)) &&
      d.subarray(30, 34).equals(ip(server)) &&
      d.readUInt16BE(36) === port
    )
      frames.push(f);
    o += 16 + len;
  }
  const pick = [frames[0]!, frames[Math.floor(frames.length / 2)]!, frames.at(-1)!];
  writeFileSync(out, Buffer.concat([buf.subarray(0, 24), ...pick]));
}

test('a sparse replay that spans the window but misses most of the zone’s baseline flows is no evidence', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-sparse-replay-'));
  try {
    const db = path.join(dir, 'weir.db');
    // Learned before anyone can log in (the store is being set up): 5 flows into the control zone.
    await weirOk(['learn', plant, '--db', db, '--create', '--until', '65%']);
    const root = await person(db, dir, 'root', ['admin'], { admin: '' });
    const tok: Record<string, string> = {};
    for (const [n, r] of [
      ['mallory', 'security'],
      ['sam', 'security'],
      ['eve', 'engineering'],
    ] as const)
      tok[n] = await person(db, dir, n, [r], { admin: root });
    const as = (n: string): string[] => ['--db', db, '--token-file', tok[n]!];
    activate(db, POLICY('simulate'));
    const p = path.join(dir, 'p.yaml');
    writeFileSync(p, POLICY('enforce'));
    await weirOk(['policy', 'promote', 'ctl', 'enforce', ...as('mallory')]);
    await weirOk(['policy', 'approve', '1', '--role', 'security', ...as('sam')]);
    await weirOk(['policy', 'approve', '1', '--role', 'engineering', ...as('eve')]);

    // Three packets of the HMI's polling, 40 s apart end to end: the window is spanned, one flow is seen.
    const thin = path.join(dir, 'thin.pcap');
    sparse(plant, thin, '10.77.0.10', '10.77.0.21', 502);
    await weirOk(['policy', 'simulate', p, '--capture', thin, ...as('mallory')]);
    let r = await weir(['policy', 'apply', '1', ...as('sam')]);
    assert.equal(r.code, 1, `a sparse replay must not be evidence: ${r.stdout}`);
    assert.match(
      r.stderr,
      /zone ctl: simulation sim-[0-9a-f]{12} saw 1 of the zone's 5 baseline flows \(20%\) carrying \d+% of their learned requests; at least 80% of both are required \(this store's rule simulation_coverage_pct: `weir policy rules`\)/,
    );
    // It says which flows it did not see, heaviest first.
    assert.match(r.stderr, /Not seen: 10\.77\.0\.40 → 10\.77\.0\.22 tcp\/102 \(27 requests\)/);
    assert.match(r.stderr, /10\.77\.0\.30 → 10\.77\.0\.21 tcp\/502 \(2 requests\)/);

    // The bar is the store's rule, set by an admin and audited; the caller's settings file does not lower it
    // (review 14 C1): the file is still read without error, and says what it no longer decides.
    const settings = path.join(dir, 'weir.yaml');
    writeFileSync(settings, 'weir: settings/1\nenforce:\n  simulation_coverage_pct: 1\n');
    r = await weir(['--config', settings, 'policy', 'apply', '1', ...as('sam')]);
    assert.equal(r.code, 1, `a settings file must not lower the bar: ${r.stdout}`);
    assert.match(
      r.stderr,
      /enforce\.simulation_coverage_pct \(1\) in .*weir\.yaml is no longer read: this store's rule is 80%; an admin sets it in the store: weir policy rules --db .* --simulation-coverage-pct VALUE \(audited\)/,
    );
    assert.match(r.stderr, /at least 80% of both are required/);
    r = await weir(['policy', 'rules', '--simulation-coverage-pct', '1', ...as('sam')]);
    assert.match(r.stderr, /sam \(security\) may not set change-control rules: that needs admin/);
    await weirOk([
      'policy',
      'rules',
      '--simulation-coverage-pct',
      '1',
      '--db',
      db,
      '--token-file',
      root,
    ]);
    assert.match(
      (await weirOk(['policy', 'rules', '--db', db])).stdout,
      /simulation_coverage_pct: 1%\nloose_reverse_path: off \(strict\)/,
    );
    r = await weirOk(['policy', 'apply', '1', ...as('sam')]);
    assert.match(r.stdout, /proposal 1 applied \(evidence: sim-[0-9a-f]{12}\)/);
    const d = openStore(db);
    try {
      const log = listAudit(d);
      const set = log.find((e) => e.action === 'change_rules.set')!;
      assert.deepEqual(
        [set.actor, set.subject, set.details],
        ['root', 'simulation_coverage_pct', { from: 80, to: 1 }],
      );
      const applied = log.find((e) => e.action === 'policy.applied')!;
      assert.equal(applied.details.simulation_coverage_pct, 1, 'the bar used is on record');
    } finally {
      d.close();
    }

    // The replay of the plant's own traffic sees every one of them.
    const full = await weirOk([
      'policy',
      'simulate',
      p,
      '--capture',
      plant,
      '--json',
      ...as('mallory'),
    ]);
    const ctl = (JSON.parse(full.stdout) as { zones: Record<string, Record<string, unknown>> })
      .zones.ctl!;
    assert.equal(ctl.baselineFlows, 5);
    assert.equal(ctl.baselineSeen, 5);
    assert.deepEqual(ctl.unseen, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
