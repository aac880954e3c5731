import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import {
  getProposal,
  insertProposal,
  savePolicyText,
  setActivePolicy,
} from '../../src/store/change-store.js';
import { listAudit } from '../../src/store/audit-store.js';
import { applyProposal, ChangeRefused } from '../../src/respond/change-control.js';
import { baselineCuts } from '../../src/respond/block-impact.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';

test('an approved block of a PLC that has baseline flows is refused until confirmed, and the cut flows are audited', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-block-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    assert.equal(baselineCuts(db, '10.77.0.21'), null, 'no baseline: nothing to tell');
    saveBaseline(db, plantBaseline());
    assert.deepEqual(
      baselineCuts(db, '10.77.0.21')!.flows.map((f) => `${f.client}>${f.server} ${f.service}`),
      ['10.77.0.10>10.77.0.21 tcp/502', '10.77.0.30>10.77.0.21 tcp/102'],
    );
    assert.deepEqual(baselineCuts(db, '10.77.0.66')!.flows, []);
    savePolicyText(db, { sha: 'p1', rulesSha: 'r1', source: 'p.yaml', text: '' });
    setActivePolicy(db, 'p1', null);
    const block = (ip: string) => {
      const id = insertProposal(db, {
        kind: 'source_block',
        zone: 'control',
        policySha: 'p1',
        baseSha: 'p1',
        requiredRoles: ['security'],
        createdBy: 'ana',
        note: '',
        doc: { ip, ttl_s: 600 },
      });
      db.prepare("UPDATE proposals SET status = 'approved' WHERE id = ?").run(id);
      return id;
    };
    const plc = block('10.77.0.21');
    const carried: string[] = [];
    const carryOutBlock = (b: { ip: string }) => {
      carried.push(b.ip);
    };
    assert.throws(
      () => applyProposal(db, { id: plc, actor: 'sec', carryOutBlock }),
      (e: unknown) =>
        e instanceof ChangeRefused &&
        /cuts 2 baseline flow\(s\)/.test(e.message) &&
        /10\.77\.0\.10 → 10\.77\.0\.21 modbus tcp\/502 {2}functions: modbus:3, modbus:16 {2}\(900 requests/.test(
          e.message,
        ) &&
        /--confirm-cuts-baseline/.test(e.message),
    );
    assert.deepEqual(carried, [], 'nothing reached the enforcement host');
    assert.equal(getProposal(db, plc)!.status, 'approved', 'still waiting to be applied');
    assert.equal(listAudit(db).at(-1)!.action, 'proposal.apply_refused');
    const r = applyProposal(db, {
      id: plc,
      actor: 'sec',
      confirmCutsBaseline: true,
      carryOutBlock,
    });
    assert.equal(r.cutsBaseline!.length, 2);
    assert.deepEqual(carried, ['10.77.0.21']);
    const applied = listAudit(db).at(-1)!;
    assert.equal(applied.action, 'source.block_applied');
    assert.equal((applied.details.cuts_baseline as unknown[]).length, 2);

    // An intruder's address cuts nothing: applied at once. A host that fails to block leaves the proposal approved.
    assert.deepEqual(applyProposal(db, { id: block('10.77.0.66'), actor: 'sec' }), {
      simulationId: null,
      block: { ip: '10.77.0.66', ttl: 600 },
    });
    const broken = block('10.77.0.67');
    assert.throws(
      () =>
        applyProposal(db, {
          id: broken,
          actor: 'sec',
          carryOutBlock: () => {
            throw new Error('nft: no such table');
          },
        }),
      /no such table/,
    );
    assert.equal(getProposal(db, broken)!.status, 'approved');
    assert.equal(listAudit(db).at(-1)!.action, 'source.block_failed');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
