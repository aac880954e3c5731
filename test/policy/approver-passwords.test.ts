import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { applyMigrations, openStore } from '../../src/store/db.js';
import { appendAudit, listAudit } from '../../src/store/audit-store.js';
import { passwordSetBy } from '../../src/store/session-store.js';
import { approvalsOf } from '../../src/store/change-store.js';
import { addPerson, changeOwnPassword, resetPassword } from '../../src/respond/users.js';
import { approveProposal, ChangeRefused, submitPolicy } from '../../src/respond/change-control.js';

const POLICY = `weir: policy/1
zones:
  - { name: ctl, members: [10.0.1.0/24], mode: observe, approvals: [security, engineering, operations] }
`;

// Review 14 C2: an admin who proposes resets an existing approver's password, logs in as them and approves.
test('an approval counts only from a password its holder set, never from an account whose password someone else reset after the proposal', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-approver-passwords-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    const add = (actor: string, name: string, roles: string[]) =>
      addPerson(db, { actor, name, roles, passwordHash: 'x' });
    add('root', 'root', ['admin']);
    add('root', 'alice', ['admin']);
    add('root', 'bob', ['security']);
    add('alice', 'eve', ['engineering']);
    add('root', 'olga', ['operations']);
    await sleep(5);
    const id = submitPolicy(db, { text: POLICY, source: 'p.yaml', actor: 'alice' });
    await sleep(5);
    const refused = (actor: string, role: string, re: RegExp): void =>
      assert.throws(
        () => approveProposal(db, { id, actor, role }),
        (e: unknown) => e instanceof ChangeRefused && re.test(e.message),
      );
    // The author resets bob's password after proposing: she knows it now.
    resetPassword(db, { actor: 'alice', name: 'bob', passwordHash: 'y' });
    refused(
      'bob',
      'security',
      /bob's password was reset by alice, the author of proposal 1, after proposal 1 was made .*does not count, whoever set the password since/,
    );
    // Another admin's reset after the proposal voids it too (the author may have asked for it, or made that admin).
    resetPassword(db, { actor: 'root', name: 'olga', passwordHash: 'y' });
    refused('olga', 'operations', /olga's password was reset by root after proposal 1 was made/);
    // The author set eve's password, before the proposal: still hers to know.
    refused(
      'eve',
      'engineering',
      /eve's password was last set by alice .*the author of the proposal/,
    );
    assert.deepEqual(approvalsOf(db, id), []);
    assert.deepEqual(
      listAudit(db)
        .filter((e) => e.action === 'proposal.approval_refused')
        .map((e) => [e.actor, e.details.password_set_by ?? e.details.password_reset_by]),
      [
        ['bob', 'alice'],
        ['olga', 'root'],
        ['eve', 'alice'],
      ],
    );
    // Eve, whose password the author set before the proposal, sets her own: her approval counts.
    changeOwnPassword(db, { name: 'eve', passwordHash: 'mine' });
    approveProposal(db, { id, actor: 'eve', role: 'engineering' });
    // Not bob's or olga's (review 14b, F1): whoever reset a password after the proposal was made (the author, or a
    // second admin account the author made) could log in as its holder and "set their own" as well; nothing tells
    // the two apart, so that reset voids the account's approval of this proposal for good.
    for (const [name, role, by] of [
      ['bob', 'security', 'alice, the author of proposal 1,'],
      ['olga', 'operations', 'root'],
    ] as const) {
      changeOwnPassword(db, { name, passwordHash: 'mine' });
      refused(
        name,
        role,
        new RegExp(`reset by ${by} after proposal 1 was made.*whoever set the password since`),
      );
    }
    assert.ok(listAudit(db).some((e) => e.action === 'user.password_changed' && e.actor === 'bob'));
    assert.equal(approvalsOf(db, id).length, 1);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store from before keeps who set each password, read from its audit log', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-approver-passwords-upgrade-'));
  const db = new Database(path.join(dir, 'weir.db'));
  try {
    applyMigrations(db, 14);
    for (const n of ['alice', 'bob', 'carl'])
      db.prepare(
        "INSERT INTO users (name, roles, created_at, password_hash) VALUES (?, '[\"security\"]', 't', ?)",
      ).run(n, n === 'carl' ? null : 'x');
    appendAudit(db, { actor: 'alice', action: 'user.added', subject: 'bob', details: {} });
    appendAudit(db, {
      actor: 'root',
      action: 'user.password_reset',
      subject: 'alice',
      details: {},
    });
    appendAudit(db, { actor: 'bob', action: 'user.password_set', subject: 'bob', details: {} });
    appendAudit(db, { actor: 'root', action: 'user.added', subject: 'carl', details: {} });
    applyMigrations(db);
    assert.equal(passwordSetBy(db, 'bob')?.by, 'bob', 'the latest entry counts');
    assert.equal(passwordSetBy(db, 'alice')?.by, 'root');
    assert.equal(passwordSetBy(db, 'carl'), null, 'no password, nobody set it');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
