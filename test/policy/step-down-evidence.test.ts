import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { addUser, savePolicyText, setActivePolicy } from '../../src/store/change-store.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import type { Baseline } from '../../src/discover/baseline.js';
import { parsePolicy } from '../../src/policy/load.js';
import {
  activePolicy,
  applyProposal,
  approveProposal,
  ChangeRefused,
  policyHashes,
  promoteZone,
  submitPolicy,
} from '../../src/respond/change-control.js';

const POLICY = (ctl: string, cell: string, access = 'read-write'): string => `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.40], mode: monitor, approvals: [security] }
  - { name: ctl, members: [10.0.1.0/24], mode: ${ctl}, approvals: [security] }
  - { name: cell, members: [10.0.2.0/24], mode: ${cell}, approvals: [security] }
conduits: [{ name: c, from: sup, to: ctl }, { name: d, from: sup, to: cell }]
groups:
  - { name: g, conduit: c, clients: [10.0.0.40], servers: [10.0.1.5], protocol: modbus, access: ${access} }
  - { name: h, conduit: d, clients: [10.0.0.40], servers: [10.0.2.5], protocol: modbus }
`;

const baseline = (version: number): Baseline => ({
  version,
  createdAt: '2026-11-01T00:00:00Z',
  sources: [`week-${version}.pcap`],
  note: '',
  from: 1_700_000_000,
  to: 1_700_600_000,
  assets: [],
  macs: {},
  edges: {},
});

// After a relearn no simulation is bound to the new baseline: a change that only steps zones down the ladder
// cuts nothing more than what runs, so it needs none; one that also tightens a rule still does.
test('a change that only steps zones down the ladder needs no new simulation after a relearn', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-step-down-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    addUser(db, 'mallory', ['security']);
    addUser(db, 'sam', ['security']);
    const text = POLICY('enforce', 'enforce');
    const r = parsePolicy(text, 'p.yaml');
    assert.ok(r.ok);
    const h = policyHashes(r.policy, text);
    savePolicyText(db, { ...h, source: 'p.yaml', text });
    setActivePolicy(db, h.sha, null);
    saveBaseline(db, baseline(1));
    saveBaseline(db, baseline(2)); // weir learn: evidence against v1 no longer counts
    const approveApply = (id: number) => {
      approveProposal(db, { id, actor: 'sam', role: 'security' });
      return applyProposal(db, { id, actor: 'sam' });
    };

    // ctl out of enforce, cell still enforcing: nothing tightens.
    const down = promoteZone(db, { zone: 'ctl', to: 'simulate', actor: 'mallory' });
    assert.equal(approveApply(down).simulationId, null);
    assert.equal(activePolicy(db)!.policy.zones.find((z) => z.name === 'ctl')!.mode, 'simulate');

    // Down two rungs at once, as a policy text.
    const text2 = POLICY('observe', 'enforce');
    const id2 = submitPolicy(db, { text: text2, source: 'p.yaml', actor: 'mallory' });
    assert.equal(approveApply(id2).simulationId, null);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a change that steps one zone down and tightens another still needs a simulation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-step-down-tight-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    addUser(db, 'mallory', ['security']);
    addUser(db, 'sam', ['security']);
    const text = POLICY('enforce', 'enforce');
    const r = parsePolicy(text, 'p.yaml');
    assert.ok(r.ok);
    const h = policyHashes(r.policy, text);
    savePolicyText(db, { ...h, source: 'p.yaml', text });
    setActivePolicy(db, h.sha, null);
    saveBaseline(db, baseline(1));
    // ctl down to simulate, and cell's group h narrowed to one function while cell keeps enforcing.
    const tight = POLICY('simulate', 'enforce').replace(
      'servers: [10.0.2.5], protocol: modbus }',
      'servers: [10.0.2.5], protocol: modbus, functions: [3] }',
    );
    const id = submitPolicy(db, { text: tight, source: 'p.yaml', actor: 'mallory' });
    approveProposal(db, { id, actor: 'sam', role: 'security' });
    assert.throws(
      () => applyProposal(db, { id, actor: 'sam' }),
      (e: unknown) => e instanceof ChangeRefused && /never simulated/.test(e.message),
    );
    assert.equal(activePolicy(db)!.sha, h.sha, 'nothing applied');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
