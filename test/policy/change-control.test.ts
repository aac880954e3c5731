import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { addUser, listProposals } from '../../src/store/change-store.js';
import { listAudit, verifyAudit } from '../../src/store/audit-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { SimulationResult } from '../../src/policy/simulate.js';
import {
  activePolicy,
  applyProposal,
  approveProposal,
  ChangeRefused,
  promoteZone,
  recordSimulation,
  submitPolicy,
} from '../../src/respond/change-control.js';

const POLICY = `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.10], mode: observe, approvals: [security] }
  - { name: control, members: [10.77.0.21], mode: observe, approvals: [security, engineering, operations], simulation_window: 10m }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - { name: hmi, conduit: sup-ctl, clients: [10.77.0.10], servers: [10.77.0.21], protocol: modbus, access: read-write }
`;

function result(span: number, baselineBlocked: number): SimulationResult {
  return {
    packets: 1000,
    messages: 900,
    firstTs: 1_700_000_000,
    lastTs: 1_700_000_000 + span,
    blocked: [],
    groupUse: { hmi: 900 },
    hosts: [],
    unzonedHosts: [],
    zones: {
      supervisory: { mode: 'observe', flows: 1, blockedFlows: 0, baselineBlocked: 0 },
      control: { mode: 'observe', flows: 2, blockedFlows: baselineBlocked, baselineBlocked },
    },
  };
}

test('change control: role approvals, the ladder one rung at a time, enforce only on a clean simulation, all audited', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cc-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    addUser(db, 'alice', ['security']);
    addUser(db, 'bob', ['engineering']);
    addUser(db, 'olga', ['operations']);
    addUser(db, 'sam', ['security']);
    const refuse = (fn: () => unknown, re: RegExp): void =>
      assert.throws(fn, (e: unknown) => e instanceof ChangeRefused && re.test(e.message));

    const id = submitPolicy(db, {
      text: POLICY,
      source: 'plant.yaml',
      actor: 'alice',
      note: 'first policy',
    });
    assert.deepEqual(listProposals(db)[0]!.requiredRoles, [
      'engineering',
      'operations',
      'security',
    ]);
    refuse(() => approveProposal(db, { id, actor: 'alice', role: 'security' }), /author/);
    refuse(
      () => approveProposal(db, { id, actor: 'bob', role: 'security' }),
      /does not hold the security role/,
    );
    refuse(() => approveProposal(db, { id, actor: 'mallory', role: 'security' }), /unknown user/);
    refuse(
      () => applyProposal(db, { id, actor: 'alice' }),
      /waiting for: security, engineering, operations|waiting for: engineering, operations, security/,
    );
    approveProposal(db, { id, actor: 'sam', role: 'security' });
    refuse(() => approveProposal(db, { id, actor: 'sam', role: 'security' }), /already given/);
    approveProposal(db, { id, actor: 'bob', role: 'engineering' });
    assert.equal(approveProposal(db, { id, actor: 'olga', role: 'operations' }).status, 'approved');
    applyProposal(db, { id, actor: 'alice' });
    assert.equal(activePolicy(db)!.policy.zones.find((z) => z.name === 'control')!.mode, 'observe');

    // Up the ladder one rung at a time.
    refuse(
      () => promoteZone(db, { zone: 'control', to: 'enforce', actor: 'alice' }),
      /one rung at a time \(next: monitor\)/,
    );
    const approveAll = (pid: number): void => {
      approveProposal(db, { id: pid, actor: 'sam', role: 'security' });
      approveProposal(db, { id: pid, actor: 'bob', role: 'engineering' });
      approveProposal(db, { id: pid, actor: 'olga', role: 'operations' });
    };
    for (const mode of ['monitor', 'simulate'] as const) {
      const pid = promoteZone(db, { zone: 'control', to: mode, actor: 'alice' });
      approveAll(pid);
      applyProposal(db, { id: pid, actor: 'alice' });
    }
    const active = activePolicy(db)!;
    assert.equal(active.policy.zones.find((z) => z.name === 'control')!.mode, 'simulate');
    assert.match(
      active.text,
      /name: control,[^}]*mode: simulate/,
      'promotion edits the zone in the YAML',
    );

    const toEnforce = promoteZone(db, { zone: 'control', to: 'enforce', actor: 'alice' });
    approveAll(toEnforce);
    refuse(() => applyProposal(db, { id: toEnforce, actor: 'alice' }), /never simulated/);
    const policy = (parsePolicy(active.text, 'plant.yaml') as { ok: true; policy: never }).policy;
    const base = {
      text: active.text,
      source: 'plant.yaml',
      policy,
      captures: ['week.pcap'],
      actor: 'alice',
    };
    recordSimulation(db, { ...base, result: result(3600, 0), baselineVersion: null });
    refuse(() => applyProposal(db, { id: toEnforce, actor: 'alice' }), /without a baseline/);
    recordSimulation(db, { ...base, result: result(60, 0), baselineVersion: 3 });
    refuse(
      () => applyProposal(db, { id: toEnforce, actor: 'alice' }),
      /zone control: simulation \S+ covers 1 min of traffic, the zone requires 10 min: record at least 10 min of traffic and simulate on it, or lower `simulation_window` of zone control/,
    );
    recordSimulation(db, { ...base, result: result(3600, 2), baselineVersion: 3 });
    refuse(() => applyProposal(db, { id: toEnforce, actor: 'alice' }), /blocks 2 baseline flow/);
    const clean = recordSimulation(db, { ...base, result: result(3600, 0), baselineVersion: 3 });
    assert.equal(applyProposal(db, { id: toEnforce, actor: 'alice' }).simulationId, clean);
    assert.equal(activePolicy(db)!.policy.zones.find((z) => z.name === 'control')!.mode, 'enforce');

    // Every step is in the audit log, the chain is intact, and the store refuses to rewrite it.
    const log = listAudit(db);
    const actions = log.map((e) => e.action);
    for (const a of [
      'proposal.created',
      'proposal.approved',
      'policy.applied',
      'simulation.recorded',
      'proposal.apply_refused',
    ])
      assert.ok(actions.includes(a), a);
    const applied = log.filter((e) => e.action === 'policy.applied').at(-1)!;
    assert.equal(applied.simulationId, clean);
    assert.deepEqual(applied.details.approvals, [
      'sam (security)',
      'bob (engineering)',
      'olga (operations)',
    ]);
    assert.equal(verifyAudit(db), null);
    assert.throws(
      () => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1").run(),
      /append-only/,
    );
    assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);
    assert.throws(
      () =>
        db
          .prepare(
            "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) VALUES ('x', 'm', 'a', 's', '{}', 'bogus', 'h')",
          )
          .run(),
      /chain broken/,
    );

    // Someone with file access who drops the triggers and edits a row is caught by the chain.
    db.exec('DROP TRIGGER audit_log_no_update');
    db.prepare("UPDATE audit_log SET details = '{}' WHERE seq = 2").run();
    assert.deepEqual(verifyAudit(db), { seq: 2, problem: 'content does not match its hash' });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
