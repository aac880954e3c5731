import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import {
  addUser,
  getProposal,
  insertProposal,
  savePolicyText,
} from '../../src/store/change-store.js';
import { saveDetections, listMutes } from '../../src/store/baseline-store.js';
import { checkAudit, listAudit } from '../../src/store/audit-store.js';
import { muteDetection, setDetectionStatus } from '../../src/respond/detection-actions.js';
import { rejectProposal } from '../../src/respond/change-control.js';
import type { Detection } from '../../src/detect/detection.js';

const scan: Detection = {
  id: 'd-scan',
  type: 'port_scan',
  severity: 'medium',
  ts: 1,
  lastTs: 1,
  count: 1,
  src: '10.77.0.99',
  dst: '10.77.0.21',
  protocol: 'tcp',
  detail: '',
  zone: null,
  evidence: { frames: [1], fields: {} },
  explanation: 'refused connections to many ports',
  suggestedResponse: 'find the scanner',
  techniques: [],
};

test('what an analyst does to a detection or a proposal is written with its audit entry, or not at all', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-audited-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    addUser(db, 'sec', ['security']);
    saveDetections(db, [scan], null);
    savePolicyText(db, { sha: 'x', rulesSha: 'x', source: 'plant.yaml', text: 'weir: policy/1\n' });
    const pid = insertProposal(db, {
      kind: 'source_block',
      zone: null,
      policySha: 'x',
      baseSha: 'x',
      requiredRoles: ['security'],
      createdBy: 'ana',
      note: '',
      doc: {},
    });
    const status = () =>
      (db.prepare('SELECT status FROM detections WHERE id = ?').get(scan.id) as { status: string })
        .status;
    // Every audit append fails from now on, as a full disk or a broken key would make it.
    db.exec(
      "CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    assert.throws(() => setDetectionStatus(db, scan.id, 'acknowledged', 'ana'), /disk full/);
    assert.throws(() => muteDetection(db, scan.id, 'ana', 'pen test', 7), /disk full/);
    assert.throws(() => rejectProposal(db, { id: pid, actor: 'sec' }), /disk full/);
    assert.equal(status(), 'open');
    assert.equal(listMutes(db).length, 0);
    assert.equal(getProposal(db, pid)!.status, 'open');

    db.exec('DROP TRIGGER temp.audit_fails');
    muteDetection(db, scan.id, 'ana', 'pen test', 7);
    rejectProposal(db, { id: pid, actor: 'sec' });
    assert.equal(status(), 'muted');
    assert.equal(getProposal(db, pid)!.status, 'rejected');
    assert.deepEqual(
      listAudit(db).map((e) => e.action),
      ['detection.muted', 'proposal.rejected'],
    );
    assert.equal(checkAudit(db).status, 'intact');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
