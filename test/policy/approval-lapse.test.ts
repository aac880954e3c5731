import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, type Db } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { getProposal } from '../../src/store/change-store.js';
import { addPerson, changeRoles, removePerson } from '../../src/respond/users.js';
import {
  applyProposal,
  approveProposal,
  ChangeRefused,
  rejectProposal,
  submitPolicy,
  withdrawProposal,
} from '../../src/respond/change-control.js';
import { lapsedApprovals } from '../../src/respond/approval-standing.js';

const policy = (approvals: string): string => `weir: policy/1
zones:
  - { name: ctl, members: [10.0.0.0/24], mode: observe, approvals: [${approvals}] }
conduits: []
groups: []
`;

async function store(fn: (db: Db) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-approval-lapse-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    for (const [name, roles] of [
      ['alice', ['admin']],
      ['bob', ['security']],
      ['carol', ['engineering']],
      ['eve', ['engineering']],
      ['vic', ['viewer']],
    ] as const)
      addPerson(db, { actor: 'alice', name, roles: [...roles], passwordHash: 'x' });
    await sleep(5);
    await fn(db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const refused = (fn: () => unknown, re: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof ChangeRefused && re.test(e.message));

// Review 14 C3: an approver removed (say, a compromised account) left an approved proposal its author could apply
// at any later time, and nobody could reject or withdraw it.
test('an approval from a person since removed does not count at apply; the approved proposal can be rejected', async () => {
  await store(async (db) => {
    const id = submitPolicy(db, { text: policy('security'), source: 'p.yaml', actor: 'eve' });
    assert.equal(approveProposal(db, { id, actor: 'bob', role: 'security' }).status, 'approved');
    changeRoles(db, { actor: 'alice', name: 'bob', roles: ['viewer'] });
    removePerson(db, { actor: 'alice', name: 'bob' });
    refused(
      () => applyProposal(db, { id, actor: 'eve' }),
      /proposal 1 cannot be applied:\n {2}proposal 1: approval no longer counts: security \(bob is no longer a user\)/,
    );
    assert.equal(getProposal(db, id)!.status, 'approved');
    const audit = listAudit(db).filter((e) => e.action === 'proposal.apply_refused');
    assert.equal(audit.length, 1);
    assert.match(String((audit[0]!.details.problems as string[])[0]), /bob is no longer a user/);
    // Closing an approved proposal undoes others' approvals: a viewer cannot; an admin can, on the record.
    refused(() => rejectProposal(db, { id, actor: 'vic' }), /takes an approving role/);
    refused(() => withdrawProposal(db, { id, actor: 'carol' }), /only its author \(eve\)/);
    rejectProposal(db, { id, actor: 'alice', note: 'bob is gone' });
    assert.equal(getProposal(db, id)!.status, 'rejected');
    const r = listAudit(db).find((e) => e.action === 'proposal.rejected')!;
    assert.deepEqual(r.details, {
      note: 'bob is gone',
      was: 'approved',
      lapsed_approvals: [{ user: 'bob', role: 'security', reason: 'bob is no longer a user' }],
    });
    refused(() => applyProposal(db, { id, actor: 'eve' }), /proposal 1 is rejected/);
  });
});

test('a demoted approver, or one given the role back after the proposal, no longer counts', async () => {
  await store(async (db) => {
    const a = submitPolicy(db, { text: policy('security'), source: 'p.yaml', actor: 'eve' });
    approveProposal(db, { id: a, actor: 'bob', role: 'security' });
    changeRoles(db, { actor: 'alice', name: 'bob', roles: ['viewer'] });
    assert.deepEqual(lapsedApprovals(db, getProposal(db, a)!), [
      { user: 'bob', role: 'security', reason: 'bob no longer holds the security role' },
    ]);
    refused(
      () => applyProposal(db, { id: a, actor: 'eve' }),
      /bob no longer holds the security role/,
    );
    await sleep(5);
    changeRoles(db, { actor: 'alice', name: 'bob', roles: ['security'] });
    refused(
      () => applyProposal(db, { id: a, actor: 'eve' }),
      /bob was given the security role again after the proposal was made/,
    );
    // A name removed and added again is a new person.
    removePerson(db, { actor: 'alice', name: 'bob' });
    addPerson(db, { actor: 'alice', name: 'bob', roles: ['security'], passwordHash: 'x' });
    refused(
      () => applyProposal(db, { id: a, actor: 'eve' }),
      /bob was given the security role again/,
    );
    // The author takes it back; withdrawn is final.
    withdrawProposal(db, { id: a, actor: 'eve', note: 'approver left' });
    assert.equal(getProposal(db, a)!.status, 'withdrawn');
    const w = listAudit(db).find((e) => e.action === 'proposal.withdrawn')!;
    assert.equal(w.actor, 'eve');
    assert.equal(w.details.was, 'approved');
    refused(() => rejectProposal(db, { id: a, actor: 'alice' }), /proposal 1 is withdrawn/);
    refused(() => applyProposal(db, { id: a, actor: 'eve' }), /proposal 1 is withdrawn/);
  });
});

test('a lapsed approval does not complete a proposal; a standing one applies as before', async () => {
  await store(async (db) => {
    const id = submitPolicy(db, {
      text: policy('security, engineering'),
      source: 'p.yaml',
      actor: 'eve',
    });
    approveProposal(db, { id, actor: 'bob', role: 'security' });
    removePerson(db, { actor: 'alice', name: 'bob' });
    assert.equal(approveProposal(db, { id, actor: 'carol', role: 'engineering' }).status, 'open');
    refused(() => applyProposal(db, { id, actor: 'eve' }), /proposal 1 is open/);
    // An open proposal is still rejected as before (any approving role), and withdrawn by its author.
    const b = submitPolicy(db, { text: policy('engineering'), source: 'q.yaml', actor: 'eve' });
    approveProposal(db, { id: b, actor: 'carol', role: 'engineering' });
    assert.deepEqual(applyProposal(db, { id: b, actor: 'eve' }), { simulationId: null });
    assert.equal(getProposal(db, b)!.status, 'applied');
    refused(() => withdrawProposal(db, { id: b, actor: 'eve' }), /proposal 2 is applied/);
  });
});
