import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { approvalsOf } from '../../src/store/change-store.js';
import { addPerson, changeRoles } from '../../src/respond/users.js';
import { approveProposal, ChangeRefused, submitPolicy } from '../../src/respond/change-control.js';

const POLICY = `weir: policy/1
zones:
  - { name: ctl, members: [10.0.1.0/24], mode: observe, approvals: [security, engineering, operations] }
`;

// The review's L5: one admin makes (or re-roles) the accounts that satisfy every approval rule.
test('approvals count only from accounts that held the role when the proposal was made', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-approver-accounts-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    const add = (name: string, roles: string[]) =>
      addPerson(db, { actor: 'root', name, roles, passwordHash: 'x' });
    add('root', ['admin']);
    add('mallory', ['security']);
    add('sam', ['security']);
    add('vera', ['viewer']);
    await sleep(5);
    const id = submitPolicy(db, { text: POLICY, source: 'p.yaml', actor: 'mallory' });
    await sleep(5);

    // After the proposal: a new engineer, and an old account given the operations role.
    add('eng2', ['engineering']);
    changeRoles(db, { actor: 'root', name: 'vera', roles: ['viewer', 'operations'] });
    const refused = (actor: string, role: string, re: RegExp): void =>
      assert.throws(
        () => approveProposal(db, { id, actor, role }),
        (e: unknown) => e instanceof ChangeRefused && re.test(e.message),
      );
    refused(
      'eng2',
      'engineering',
      /eng2 was given the engineering role after proposal 1 was made \([^)]+\): an approval counts only from an account that held its role then/,
    );
    refused('vera', 'operations', /vera was given the operations role after proposal 1 was made/);
    // A role taken away and given back is new too.
    changeRoles(db, { actor: 'root', name: 'sam', roles: ['viewer'] });
    changeRoles(db, { actor: 'root', name: 'sam', roles: ['security'] });
    refused('sam', 'security', /sam was given the security role after proposal 1 was made/);
    assert.deepEqual(approvalsOf(db, id), []);

    const audit = listAudit(db).filter((e) => e.action === 'proposal.approval_refused');
    assert.deepEqual(
      audit.map((e) => [e.actor, e.subject, e.details.role]),
      [
        ['eng2', 'proposal 1', 'engineering'],
        ['vera', 'proposal 1', 'operations'],
        ['sam', 'proposal 1', 'security'],
      ],
    );
    assert.match(String(audit[0]!.details.reason), /after proposal 1 was made/);

    // Roles kept through a change still count from when they were given.
    add('olga', ['operations']);
    add('bob', ['security']);
    await sleep(5);
    const id2 = submitPolicy(db, {
      text: POLICY.replace('10.0.1.0/24', '10.0.2.0/24'),
      source: 'p2.yaml',
      actor: 'mallory',
    });
    changeRoles(db, { actor: 'root', name: 'bob', roles: ['security', 'viewer'] });
    approveProposal(db, { id: id2, actor: 'bob', role: 'security' });
    approveProposal(db, { id: id2, actor: 'olga', role: 'operations' });
    approveProposal(db, { id: id2, actor: 'eng2', role: 'engineering' });
    assert.equal(approvalsOf(db, id2).length, 3);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
