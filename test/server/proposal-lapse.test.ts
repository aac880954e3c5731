import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildServer } from '../../src/server/app.js';
import { submitPolicy } from '../../src/respond/change-control.js';
import { removePerson } from '../../src/respond/users.js';
import { getProposal } from '../../src/store/change-store.js';
import { addUsers, freshStore, injectLogin } from './fixture.js';

const POLICY = `weir: policy/1
zones:
  - { name: ctl, members: [10.0.0.0/24], mode: observe, approvals: [security] }
conduits: []
groups: []
`;

// Review 14 C3 through the API: the queue says why an approval no longer counts, and the approved proposal can
// be withdrawn by its author (and only by its author).
test('the approvals queue names a lapsed approval; the author withdraws the approved proposal', async () => {
  const { dir, db } = freshStore('weir-proposal-lapse-');
  const app = await buildServer({ db });
  try {
    await addUsers(db, [
      ['sec', ['security']],
      ['eng', ['engineering']],
      ['ops', ['operations']],
      ['vera', ['viewer']],
      ['root', ['admin']],
    ]);
    const cookie = new Map<string, string>();
    for (const n of ['sec', 'eng', 'ops', 'vera']) cookie.set(n, await injectLogin(app, n));
    const post = (who: string, url: string, payload: Record<string, unknown> = {}) =>
      app.inject({ method: 'POST', url, payload, headers: { cookie: cookie.get(who)! } });
    await sleep(5);
    const id = submitPolicy(db, { text: POLICY, source: 'p.yaml', actor: 'eng' });
    const ok = await post('sec', `/api/proposals/${id}/approve`, { role: 'security' });
    assert.deepEqual(ok.json(), { status: 'approved' });
    removePerson(db, { actor: 'root', name: 'sec' });

    const items = (
      await app.inject({
        method: 'GET',
        url: '/api/proposals',
        headers: { cookie: cookie.get('vera')! },
      })
    ).json().items as Array<{ id: number; status: string; lapsed?: string }>;
    assert.equal(items[0]!.status, 'approved');
    assert.match(
      items[0]!.lapsed ?? '',
      /approval no longer counts: security \(sec is no longer a user\)/,
    );

    assert.equal((await post('vera', `/api/proposals/${id}/withdraw`)).statusCode, 403);
    const notAuthor = await post('ops', `/api/proposals/${id}/withdraw`);
    assert.notEqual(notAuthor.statusCode, 200);
    assert.match(notAuthor.body, /only its author \(eng\) withdraws/);
    const w = await post('eng', `/api/proposals/${id}/withdraw`, { note: 'approver left' });
    assert.equal(w.statusCode, 200);
    assert.equal(getProposal(db, id)!.status, 'withdrawn');
  } finally {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
