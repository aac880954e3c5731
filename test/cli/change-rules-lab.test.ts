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

// Review 14 C1 (the reverse-path mode is the store's rule, not the caller's settings file, and is on record)
// and L4 (carrying out an approved block is an enforcer's job, not a proposer's).
test('the reverse-path mode is an admin-set store rule, recorded with each apply; an approved block needs an enforcer', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true')
      throw new Error('this test needs root and iproute2 for its network namespace');
    return t.skip('needs root to create a network namespace');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-change-rules-'));
  const ns = `weir-cr-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const db = path.join(dir, 'weir.db');
    const root = await person(db, dir, 'root', ['admin'], { admin: '' });
    const sec = await person(db, dir, 'sec', ['security'], { admin: root });
    const eng = await person(db, dir, 'eng', ['engineering'], { admin: root });
    activate(db, policyText('enforce'));
    const d0 = openStore(db);
    saveBaseline(d0, plantBaseline());
    d0.close();
    const here = ['--family', 'inet', '--netns', ns];
    const apply = ['enforce', 'apply', '--port-level-ok', '--db', db, '--token-file', sec, ...here];
    const ruleset = (): string =>
      execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset']).toString();

    // The enforcer's own settings file asks for the loose check: refused, nothing loaded.
    const settings = path.join(dir, 'mine.yaml');
    writeFileSync(settings, 'weir: settings/1\nenforce:\n  loose_reverse_path: true\n');
    let r = await weir(['--config', settings, ...apply]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /enforce\.loose_reverse_path is on in .*mine\.yaml, but this store's rule is strict, and the file is no longer read for it; an admin sets it in the store: weir policy rules --db .* --loose-reverse-path VALUE \(audited\) \(nothing was changed on this host\)/,
    );
    assert.doesNotMatch(ruleset(), /table inet weir/);
    await weirOk(apply);
    assert.match(
      ruleset(),
      /fib saddr \. iif oif/,
      'strict: the route back goes out where it came in',
    );

    // Only an admin sets the rule; it is audited, and the next apply uses and records it.
    r = await weir([
      'policy',
      'rules',
      '--loose-reverse-path',
      'on',
      '--db',
      db,
      '--token-file',
      sec,
    ]);
    assert.match(r.stderr, /may not set change-control rules: that needs admin/);
    await weirOk([
      'policy',
      'rules',
      '--loose-reverse-path',
      'on',
      '--db',
      db,
      '--token-file',
      root,
    ]);
    await weirOk(apply);
    assert.match(ruleset(), /fib saddr oif/);
    assert.doesNotMatch(ruleset(), /fib saddr \. iif oif/);

    // An approved block, applied by an engineer (a proposing role, not an enforcing one): refused.
    const d = openStore(db);
    const sha = (d.prepare('SELECT sha256 FROM active_policy').get() as { sha256: string }).sha256;
    const id = insertProposal(d, {
      kind: 'source_block',
      zone: 'supervisory',
      policySha: sha,
      baseSha: sha,
      requiredRoles: ['security'],
      createdBy: 'eng',
      note: '',
      doc: { ip: '10.77.0.66', ttl_s: 600 },
    });
    d.prepare("UPDATE proposals SET status = 'approved' WHERE id = ?").run(id);
    d.close();
    r = await weir(['policy', 'apply', String(id), '--db', db, '--token-file', eng, ...here]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /eng \(engineering\) may not carry out an approved block: that needs security or operations or admin/,
    );
    assert.doesNotMatch(ruleset(), /10\.77\.0\.66/);
    await weirOk(['policy', 'apply', String(id), '--db', db, '--token-file', sec, ...here]);
    assert.match(ruleset(), /10\.77\.0\.66/);

    const d2 = openStore(db);
    try {
      const log = listAudit(d2);
      assert.deepEqual(
        log.filter((e) => e.action === 'enforcement.applied').map((e) => e.details.reverse_path),
        ['strict', 'loose'],
      );
      const set = log.find((e) => e.action === 'change_rules.set')!;
      assert.deepEqual(
        [set.actor, set.subject, set.details],
        ['root', 'loose_reverse_path', { from: 0, to: 1 }],
      );
      assert.equal(checkAudit(d2).status, 'intact');
    } finally {
      d2.close();
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
