import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { approvalsOf } from '../../src/store/change-store.js';
import { policyText } from '../helpers/plant-fixtures.js';
import { cli, person, weir, weirOk } from '../helpers/weir-cli.js';
import { spawn } from 'node:child_process';

const audit = (db: string) => {
  const d = openStore(db);
  try {
    return listAudit(d);
  } finally {
    d.close();
  }
};

test('state changes from the CLI need a proven person: a bare --as is refused, one account cannot make and be several people', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-identity-'));
  try {
    const db = path.join(dir, 'weir.db');
    const policy = path.join(dir, 'plant.yaml');
    writeFileSync(policy, policyText('observe'));

    // Bootstrap: the first user is an admin with a password, once.
    let r = await weir(['user', 'add', 'bob', '--role', 'security', '--db', db]);
    assert.match(r.stderr, /first user is an admin with a password/);
    const root = await person(db, dir, 'root', ['admin'], { admin: '' });
    r = await weir(['user', 'add', 'eve', '--role', 'admin', '--db', db, '--password-stdin'], {
      input: 'eve-password-123\n',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs a logged-in person/, 'a second "first admin" is refused');
    assert.equal(statSync(root).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(root)).isDirectory(), true);

    const alice = await person(db, dir, 'alice', ['security'], { admin: root });
    const bob = await person(db, dir, 'bob', ['security', 'engineering'], { admin: root });
    const ana = await person(db, dir, 'ana', ['analyst'], { admin: root });
    // Only an admin adds people or changes roles.
    r = await weir([
      'user',
      'add',
      'ghost',
      '--role',
      'operations',
      '--db',
      db,
      '--token-file',
      alice,
    ]);
    assert.match(r.stderr, /alice \(security\) may not manage users: that needs admin/);
    r = await weir(['user', 'add', 'bob', '--role', 'operations', '--db', db, '--token-file', bob]);
    assert.match(r.stderr, /may not manage users/, 'bob cannot give himself another role');

    // A bare --as proves nothing.
    r = await weir(['policy', 'submit', policy, '--db', db, '--as', 'alice']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--as alice alone proves nothing/);
    r = await weir(['policy', 'submit', policy, '--db', db, '--as', 'alice', '--password-stdin'], {
      input: 'not-her-password\n',
    });
    assert.match(r.stderr, /wrong user or password/);
    assert.equal(audit(db).at(-1)!.action, 'login.failed');
    // A claimed name is never the actor (review 14, L1): kept escaped in details, as on the dashboard.
    assert.equal(audit(db).at(-1)!.actor, 'unauthenticated');
    assert.equal(audit(db).at(-1)!.details.claimedUser, 'alice');
    r = await weir(
      ['policy', 'submit', policy, '--db', db, '--as', 'x\u001b[2Kroot', '--password-stdin'],
      {
        input: 'guess\n',
      },
    );
    assert.match(r.stderr, /wrong user or password/);
    assert.deepEqual(
      [audit(db).at(-1)!.actor, audit(db).at(-1)!.details.claimedUser],
      ['unauthenticated', 'x\\u001b[2Kroot'],
    );
    r = await weirOk(
      ['policy', 'submit', policy, '--db', db, '--as', 'alice', '--password-stdin'],
      { input: 'alice-password-123\n' },
    );
    assert.match(r.stdout, /proposal 1 created; needs approval by: engineering, security/);
    r = await weir(['policy', 'submit', policy, '--db', db, '--token-file', ana]);
    assert.match(r.stderr, /ana \(analyst\) may not propose changes/);

    // A token is one person: it cannot speak for another, and one person approves in one role.
    r = await weir([
      'policy',
      'approve',
      '1',
      '--role',
      'security',
      '--db',
      db,
      '--token-file',
      bob,
      '--as',
      'alice',
    ]);
    assert.match(r.stderr, /session in .* is bob's, not alice's/);
    await weirOk(['policy', 'approve', '1', '--role', 'security', '--db', db, '--token-file', bob]);
    r = await weir([
      'policy',
      'approve',
      '1',
      '--role',
      'engineering',
      '--db',
      db,
      '--token-file',
      bob,
    ]);
    assert.match(r.stderr, /bob already approved proposal 1 in another role/);
    r = await weir([
      'policy',
      'approve',
      '1',
      '--role',
      'engineering',
      '--db',
      db,
      '--token-file',
      root,
    ]);
    assert.match(r.stderr, /root does not hold the engineering role/);
    const d = openStore(db);
    try {
      assert.deepEqual(
        approvalsOf(d, 1).map((a) => `${a.user}:${a.role}`),
        ['bob:security'],
      );
    } finally {
      d.close();
    }

    // Changing someone's roles is the admin's, audited, and ends that person's sessions.
    r = await weirOk([
      'user',
      'add',
      'bob',
      '--role',
      'engineering',
      '--db',
      db,
      '--token-file',
      root,
    ]);
    assert.match(r.stdout, /roles were security, engineering; 1 session\(s\) ended/);
    const change = audit(db).find((e) => e.action === 'user.roles_changed')!;
    assert.deepEqual(
      [change.actor, change.subject, change.details],
      ['root', 'bob', { from: ['security', 'engineering'], to: ['engineering'] }],
    );
    r = await weir([
      'policy',
      'approve',
      '1',
      '--role',
      'engineering',
      '--db',
      db,
      '--token-file',
      bob,
    ]);
    assert.match(r.stderr, /expired or was ended/);

    // The last admin stays; others can be removed (sessions ended); a loose token file is not used.
    r = await weir(['user', 'remove', 'root', '--db', db, '--token-file', root]);
    assert.match(r.stderr, /last admin/);
    await weirOk(['user', 'remove', 'ana', '--db', db, '--token-file', root]);
    assert.match(
      (await weir(['policy', 'reject', '1', '--db', db, '--token-file', ana])).stderr,
      /expired or was ended/,
    );
    assert.doesNotMatch(
      (await weirOk(['user', 'list', '--db', db, '--token-file', root])).stdout,
      /ana/,
    );
    assert.match(
      (await weir(['user', 'list', '--db', db, '--token-file', alice])).stderr,
      /may not list users/,
    );
    chmodSync(alice, 0o644);
    assert.match(
      (await weir(['policy', 'reject', '1', '--db', db, '--token-file', alice])).stderr,
      /can be read by others/,
    );
    chmodSync(alice, 0o600);
    await weirOk(['logout', '--db', db, '--token-file', alice]);
    assert.equal(existsSync(alice), false);
    assert.match(
      (await weir(['policy', 'reject', '1', '--db', db, '--token-file', alice])).stderr,
      /no session token in/,
    );
    // A typo in the store path does not create an empty store one could bootstrap.
    assert.match(
      (
        await weir([
          'policy',
          'reject',
          '1',
          '--db',
          path.join(dir, 'typo.db'),
          '--token-file',
          root,
        ])
      ).stderr,
      /no store at/,
    );
    assert.equal(existsSync(path.join(dir, 'typo.db')), false);

    // Every step names a proven person; the log verifies.
    const actions = audit(db).map((e) => `${e.actor} ${e.action} ${e.subject}`);
    for (const a of [
      'root user.added root',
      'root user.added alice',
      'alice proposal.created proposal 1',
      'bob proposal.approved proposal 1',
      'root user.removed ana',
      'alice login cli',
      'alice logout cli',
    ])
      assert.ok(actions.includes(a), a);
    assert.match((await weirOk(['policy', 'audit', '--db', db])).stderr, /audit chain intact/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'weir login asks for the password on a terminal without echoing it',
  { skip: !existsSync('/usr/bin/script') && 'util-linux script missing' },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-login-tty-'));
    try {
      const db = path.join(dir, 'weir.db');
      await person(db, dir, 'root', ['admin'], { admin: '' });
      const tokenFile = path.join(dir, 'tty-token');
      // script(1) gives the command a terminal; we type only once it asks, as a person would.
      const c = spawn(
        'script',
        [
          '-qec',
          `${process.execPath} ${cli} login --db ${db} --user root --token-file ${tokenFile}`,
          '/dev/null',
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      let out = '';
      const r = await new Promise<{ stdout: string }>((resolve) => {
        c.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/password for root: $/.test(out)) c.stdin.write('root-password-123\r');
        });
        c.on('close', () => resolve({ stdout: out }));
      });
      assert.match(r.stdout, /password for root: /);
      assert.match(r.stdout, /logged in as root \(admin\)/);
      assert.doesNotMatch(r.stdout, /root-password-123/, 'the password is not echoed');
      assert.ok(existsSync(tokenFile));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
