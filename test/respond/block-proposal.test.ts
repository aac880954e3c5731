import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Db } from '../../src/store/db.js';
import { listProposals, savePolicyText, setActivePolicy } from '../../src/store/change-store.js';
import { saveDetections } from '../../src/store/baseline-store.js';
import { checkAudit, listAudit } from '../../src/store/audit-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { ChangeRefused, applyProposalVia, policyHashes } from '../../src/respond/change-control.js';
import { getProposal } from '../../src/store/change-store.js';
import { NotFound } from '../../src/respond/detection-actions.js';
import { proposeBlock } from '../../src/respond/block-proposal.js';
import type { Detection } from '../../src/detect/detection.js';

const POLICY = `weir: policy/1
zones:
  - { name: control, members: [10.77.0.21], approvals: [security, operations] }
`;

const detection: Detection = {
  id: 'd-intruder',
  type: 'new_asset',
  severity: 'high',
  ts: 1,
  lastTs: 1,
  count: 1,
  src: '10.77.0.99',
  dst: '10.77.0.21',
  protocol: 'modbus',
  detail: '',
  zone: null,
  evidence: { frames: [1], fields: {} },
  explanation: 'a device never seen before',
  suggestedResponse: 'find out who plugged it in',
  techniques: [],
};

function store(): { dir: string; db: Db } {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-respond-'));
  return { dir, db: openStore(path.join(dir, 'weir.db')) };
}

function activate(db: Db): void {
  const r = parsePolicy(POLICY, 'plant.yaml');
  if (!r.ok) throw new Error('test policy invalid');
  const { sha, rulesSha } = policyHashes(r.policy, POLICY);
  savePolicyText(db, { sha, rulesSha, source: 'plant.yaml', text: POLICY });
  setActivePolicy(db, sha, null);
}

/** From now on every audit append fails, as a full disk or a broken key would make it. */
function breakAudit(db: Db): void {
  db.exec(
    "CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END",
  );
}

test('a block proposal and its audit entry are written together, or neither is', () => {
  const { dir, db } = store();
  try {
    saveDetections(db, [detection], null);
    assert.throws(
      () => proposeBlock(db, { detection: detection.id, actor: 'ana' }),
      (e) => e instanceof ChangeRefused && /no active policy/.test(e.message),
    );
    activate(db);
    assert.throws(
      () => proposeBlock(db, { detection: 'd-missing', actor: 'ana' }),
      (e) => e instanceof NotFound,
    );
    assert.equal(listProposals(db).length, 0);

    breakAudit(db);
    assert.throws(() => proposeBlock(db, { detection: detection.id, actor: 'ana' }), /disk full/);
    assert.equal(listProposals(db).length, 0, 'no proposal without its audit entry');
    db.exec('DROP TRIGGER temp.audit_fails');

    const id = proposeBlock(db, { detection: detection.id, actor: 'ana', ttl: 600 });
    const [p] = listProposals(db);
    assert.equal(p!.id, id);
    assert.equal(p!.kind, 'source_block');
    assert.equal(p!.zone, 'control', "the destination's zone");
    assert.deepEqual(p!.requiredRoles, ['security', 'operations']);
    assert.deepEqual(p!.doc, { ip: '10.77.0.99', ttl_s: 600, detection: 'd-intruder' });
    assert.equal(p!.note, 'block 10.77.0.99 after new_asset');
    const entries = listAudit(db);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.action, 'proposal.created');
    assert.equal(entries[0]!.subject, `proposal ${id}`);
    assert.equal(checkAudit(db).status, 'intact');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an approved block is applied through an asynchronous enforcement backend: awaited, a failure audited and the proposal left approved', async () => {
  const { dir, db } = store();
  try {
    saveDetections(db, [detection], null);
    activate(db);
    const id = proposeBlock(db, { detection: detection.id, actor: 'ana', ttl: 600 });
    db.prepare("UPDATE proposals SET status = 'approved' WHERE id = ?").run(id);
    await assert.rejects(
      applyProposalVia(db, {
        id,
        actor: 'sec',
        carryOutBlock: async () => {
          throw new Error('no Weir ruleset is loaded');
        },
      }),
      /no Weir ruleset/,
    );
    assert.equal(getProposal(db, id)!.status, 'approved', 'a block not carried out is not applied');
    const failed = listAudit(db).find((a) => a.action === 'source.block_failed');
    assert.equal(failed?.details.error, 'no Weir ruleset is loaded');
    const carried: Array<{ ip: string; ttl: number }> = [];
    const r = await applyProposalVia(db, {
      id,
      actor: 'sec',
      carryOutBlock: async (b) => {
        await new Promise((res) => setTimeout(res, 5));
        carried.push(b);
      },
    });
    assert.deepEqual(carried, [{ ip: '10.77.0.99', ttl: 600 }]);
    assert.deepEqual(r.block, { ip: '10.77.0.99', ttl: 600 });
    assert.equal(getProposal(db, id)!.status, 'applied');
    assert.ok(listAudit(db).some((a) => a.action === 'source.block_applied'));
    assert.equal(checkAudit(db).intact, true);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
