import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { insertProposal } from '../../src/store/change-store.js';
import { checkAudit, listAudit } from '../../src/store/audit-store.js';
import { canBuildLab } from '../lab/plant.js';
import { plantBaseline, policyText } from '../helpers/plant-fixtures.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';
import { activate } from '../helpers/approved-store.js';
import { writeApplied } from '../../src/enforce/state.js';

const withBaseline = (db: string): void => {
  const d = openStore(db);
  try {
    saveBaseline(d, plantBaseline());
  } finally {
    d.close();
  }
};

test('enforce apply and the gateway take enforce-mode zones only from the approved policy', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-enforce-gate-'));
  try {
    const db = path.join(dir, 'weir.db');
    const enforcing = path.join(dir, 'plant.yaml');
    const simulating = path.join(dir, 'sim.yaml');
    const edited = path.join(dir, 'edited.yaml');
    writeFileSync(enforcing, policyText('enforce'));
    writeFileSync(simulating, policyText('simulate'));
    writeFileSync(edited, `${policyText('enforce')}# one more line\n`);

    let r = await weir(['enforce', 'apply', '--port-level-ok', '--policy', enforcing, '--dry-run']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /zone control is in enforce mode, and a policy file alone may only observe, monitor or simulate/,
    );
    assert.match(
      r.stderr,
      /weir policy submit .*plant\.yaml --db STORE.*weir policy approve.*weir policy apply ID/,
    );
    r = await weir(['gateway', '--policy', enforcing, '--listen', '127.0.0.1'], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 1, 'the gateway does not start on an unapproved enforce policy');
    assert.match(r.stderr, /zone control is in enforce mode/);
    r = await weirOk(['enforce', 'apply', '--port-level-ok', '--policy', simulating, '--dry-run']);
    assert.match(r.stdout, /"nftables"/);

    await person(db, dir, 'root', ['admin'], { admin: '' });
    activate(db, policyText('enforce'));
    withBaseline(db);
    r = await weir([
      'enforce',
      'apply',
      '--port-level-ok',
      '--policy',
      edited,
      '--db',
      db,
      '--dry-run',
    ]);
    assert.match(
      r.stderr,
      /edited\.yaml \(sha256 [0-9a-f]{12}\) is not the store's active policy \(sha256 [0-9a-f]{12}\)/,
    );
    assert.match(
      (
        await weirOk([
          'enforce',
          'apply',
          '--port-level-ok',
          '--policy',
          enforcing,
          '--db',
          db,
          '--dry-run',
        ])
      ).stdout,
      /"drop"/,
    );
    assert.match(
      (await weirOk(['enforce', 'apply', '--port-level-ok', '--db', db, '--dry-run'])).stdout,
      /"drop"/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every enforcement action needs --db and a person allowed to enforce; blocking a PLC with baseline flows needs confirmation; all audited', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true')
      throw new Error('this test needs root and iproute2 for its network namespace');
    return t.skip('needs root to create a network namespace');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-enforce-audit-'));
  const ns = `weir-cc-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const db = path.join(dir, 'weir.db');
    const root = await person(db, dir, 'root', ['admin'], { admin: '' });
    const sec = await person(db, dir, 'sec', ['security'], { admin: root });
    const ana = await person(db, dir, 'ana', ['analyst'], { admin: root });
    activate(db, policyText('enforce'));
    withBaseline(db);
    const here = ['--family', 'inet', '--netns', ns];

    let r = await weir(['block', '10.77.0.66', '--ttl', '10m', ...here]);
    assert.match(r.stderr, /block needs --db STORE: every enforcement action is audited there/);
    r = await weir(['enforce', 'remove', ...here]);
    assert.match(r.stderr, /needs --db STORE/);
    r = await weir(['block', '10.77.0.66', '--ttl', '10m', '--db', db, '--as', 'sec', ...here]);
    assert.match(r.stderr, /--as sec alone proves nothing/);
    r = await weir([
      'enforce',
      'apply',
      '--port-level-ok',
      '--db',
      db,
      '--token-file',
      ana,
      ...here,
    ]);
    assert.match(
      r.stderr,
      /ana \(analyst\) may not enforce apply: that needs security or operations or admin/,
    );

    // The PLC has baseline flows: they are shown, and nothing happens without confirmation.
    r = await weir([
      'block',
      '10.77.0.21',
      '--ttl',
      '10m',
      '--db',
      db,
      '--token-file',
      sec,
      ...here,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /blocking 10\.77\.0\.21 cuts 2 baseline flow\(s\) \(baseline v1\)/);
    assert.match(
      r.stderr,
      /10\.77\.0\.10 → 10\.77\.0\.21 modbus tcp\/502 {2}functions: modbus:3, modbus:16/,
    );
    assert.match(r.stderr, /10\.77\.0\.30 → 10\.77\.0\.21 s7comm tcp\/102/);
    assert.match(r.stderr, /--confirm-cuts-baseline/);
    // A block the host cannot carry out (no ruleset yet) is audited as failed.
    r = await weir([
      'block',
      '10.77.0.66',
      '--ttl',
      '10m',
      '--db',
      db,
      '--token-file',
      sec,
      ...here,
    ]);
    assert.equal(r.code, 1);

    await weirOk(['enforce', 'apply', '--port-level-ok', '--db', db, '--token-file', sec, ...here]);
    r = await weirOk([
      'block',
      '10.77.0.21',
      '--ttl',
      '10m',
      '--confirm-cuts-baseline',
      '--reason',
      'PLC compromised',
      '--db',
      db,
      '--token-file',
      sec,
      ...here,
    ]);
    assert.match(r.stderr, /cutting 2 baseline flow\(s\), as confirmed/);
    assert.match(
      (await weirOk(['enforce', 'status', ...here])).stdout,
      /blocked sources: 10\.77\.0\.21/,
    );
    await weirOk(['unblock', '10.77.0.21', '--db', db, '--token-file', sec, ...here]);
    await weirOk([
      'permit',
      '10.77.0.66',
      '10.77.0.21',
      'tcp/502',
      '--ttl',
      '30s',
      '--db',
      db,
      '--token-file',
      sec,
      ...here,
    ]);

    // An approved block of the HMI, applied on this host: the same check.
    const d = openStore(db);
    const sha = (d.prepare('SELECT sha256 FROM active_policy').get() as { sha256: string }).sha256;
    const id = insertProposal(d, {
      kind: 'source_block',
      zone: 'supervisory',
      policySha: sha,
      baseSha: sha,
      requiredRoles: ['security'],
      createdBy: 'ana',
      note: '',
      doc: { ip: '10.77.0.10', ttl_s: 600 },
    });
    d.prepare("UPDATE proposals SET status = 'approved' WHERE id = ?").run(id);
    d.close();
    r = await weir(['policy', 'apply', String(id), '--db', db, '--token-file', sec, ...here]);
    assert.match(r.stderr, /blocking 10\.77\.0\.10 cuts 2 baseline flow\(s\)/);
    assert.doesNotMatch((await weirOk(['enforce', 'status', ...here])).stdout, /10\.77\.0\.10/);
    await weirOk([
      'policy',
      'apply',
      String(id),
      '--db',
      db,
      '--token-file',
      sec,
      '--confirm-cuts-baseline',
      ...here,
    ]);
    assert.match(
      (await weirOk(['enforce', 'status', ...here])).stdout,
      /blocked sources: 10\.77\.0\.10/,
    );
    await weirOk(['enforce', 'remove', '--db', db, '--token-file', sec, ...here]);

    const d2 = openStore(db);
    try {
      const log = listAudit(d2).filter((e) => !['user.added', 'login'].includes(e.action));
      assert.deepEqual(
        log.map((e) => `${e.actor} ${e.action} ${e.subject}`),
        [
          'sec source.block_refused 10.77.0.21',
          'sec source.blocked.failed 10.77.0.66',
          'sec enforcement.applied nftables',
          'sec source.blocked 10.77.0.21',
          'sec source.unblocked 10.77.0.21',
          'sec flow.permitted 10.77.0.66 → 10.77.0.21 tcp/502',
          `sec proposal.apply_refused proposal ${id}`,
          `sec source.block_applied proposal ${id}`,
          'sec enforcement.removed nftables',
        ],
      );
      const blocked = log.find((e) => e.action === 'source.blocked')!;
      assert.equal((blocked.details.cuts_baseline as unknown[]).length, 2);
      assert.equal(blocked.details.reason, 'PLC compromised');
      assert.equal(checkAudit(d2).status, 'intact');
    } finally {
      d2.close();
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weir block and an approved block proposal refuse this host's address, its gateway and its subnet's broadcast address, audited (rev12 R4)", async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true')
      throw new Error('this test needs root and iproute2 for its network namespace');
    return t.skip('needs root to create a network namespace');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-enforce-never-'));
  const ns = `weir-nb-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.77.0.3/24', 'dev', 'lo']);
    const db = path.join(dir, 'weir.db');
    const root = await person(db, dir, 'root', ['admin'], { admin: '' });
    const sec = await person(db, dir, 'sec', ['security'], { admin: root });
    activate(db, policyText('enforce'));
    withBaseline(db);
    // The gateway `enforce apply` set up on this host (its state dir), after any proposal was made.
    const stateDir = path.join(dir, 'state');
    writeApplied(stateDir, {
      sha: 'a'.repeat(64),
      source: 'plant.yaml',
      text: policyText('enforce'),
      appliedAt: new Date().toISOString(),
      actor: 'sec',
      family: 'inet',
      netns: ns,
      gatewayIp: '10.77.0.2',
    });
    const here = ['--family', 'inet', '--netns', ns, '--state-dir', stateDir];
    const auth = ['--db', db, '--token-file', sec];
    for (const [ip, why] of [
      ['10.77.0.2', /10\.77\.0\.2 is the enforcement host, its gateway or router/],
      ['10.77.0.3', /10\.77\.0\.3 is the enforcement host/],
      ['10.77.0.255', /broadcast address of 10\.77\.0\.0\/24/],
    ] as const) {
      const r = await weir([
        'block',
        ip,
        '--ttl',
        '10m',
        '--confirm-cuts-baseline',
        ...auth,
        ...here,
      ]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, why);
    }
    const d = openStore(db);
    const sha = (d.prepare('SELECT sha256 FROM active_policy').get() as { sha256: string }).sha256;
    const id = insertProposal(d, {
      kind: 'source_block',
      zone: 'control',
      policySha: sha,
      baseSha: sha,
      requiredRoles: ['security'],
      createdBy: 'sec',
      note: '',
      doc: { ip: '10.77.0.2', ttl_s: 600 },
    });
    d.prepare("UPDATE proposals SET status = 'approved' WHERE id = ?").run(id);
    d.close();
    const r = await weir([
      'policy',
      'apply',
      String(id),
      '--confirm-cuts-baseline',
      ...auth,
      ...here,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /10\.77\.0\.2 is the enforcement host, its gateway or router/);
    const d2 = openStore(db);
    try {
      const log = listAudit(d2).filter((e) => !['user.added', 'login'].includes(e.action));
      assert.deepEqual(
        log.map((e) => `${e.actor} ${e.action} ${e.subject}`),
        [
          'sec source.block_refused 10.77.0.2',
          'sec source.block_refused 10.77.0.3',
          'sec source.block_refused 10.77.0.255',
          `sec proposal.apply_refused proposal ${id}`,
        ],
      );
      assert.match(String(log[0]!.details.never_block), /gateway/);
    } finally {
      d2.close();
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
