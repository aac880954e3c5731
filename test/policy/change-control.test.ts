import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import {
  addUser,
  insertProposal,
  listProposals,
  savePolicyText,
  setActivePolicy,
} from '../../src/store/change-store.js';
import { latestBaseline, saveBaseline } from '../../src/store/baseline-store.js';
import type { Baseline } from '../../src/discover/baseline.js';
import { listAudit, verifyAudit } from '../../src/store/audit-store.js';
import { setChangeRule } from '../../src/store/change-rules-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { SimulationResult } from '../../src/policy/simulate.js';
import {
  activePolicy,
  applyProposal,
  approveProposal,
  ChangeRefused,
  policyHashes,
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

/** A baseline as `weir learn` stores it (what it holds does not matter here, only which one it is). */
function baseline(version = 1): Baseline {
  return {
    version,
    createdAt: '2026-11-01T00:00:00Z',
    sources: ['week.pcap'],
    note: '',
    from: 1_700_000_000,
    to: 1_700_600_000,
    assets: [],
    macs: {},
    edges: {},
  };
}

/** Coverage of a baseline that holds no flow of the zone (as baseline() here): nothing to miss. */
const COVERED = {
  baselineFlows: 0,
  baselineSeen: 0,
  baselineRequests: 0,
  baselineRequestsSeen: 0,
  unseen: [],
};

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
      supervisory: { mode: 'observe', flows: 1, blockedFlows: 0, baselineBlocked: 0, ...COVERED },
      control: {
        mode: 'observe',
        flows: 2,
        blockedFlows: baselineBlocked,
        baselineBlocked,
        ...COVERED,
      },
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
    const b1 = baseline(1);
    saveBaseline(db, b1);
    recordSimulation(db, { ...base, result: result(3600, 0), baseline: null });
    refuse(() => applyProposal(db, { id: toEnforce, actor: 'alice' }), /without a baseline/);
    recordSimulation(db, { ...base, result: result(60, 0), baseline: b1 });
    refuse(
      () => applyProposal(db, { id: toEnforce, actor: 'alice' }),
      /zone control: simulation \S+ covers 1 min of traffic, the zone requires 10 min: record at least 10 min of traffic and simulate on it, or lower `simulation_window` of zone control/,
    );
    const cuts = recordSimulation(db, { ...base, result: result(3600, 2), baseline: b1 });
    refuse(() => applyProposal(db, { id: toEnforce, actor: 'alice' }), /blocks 2 baseline flow/);
    // The review's F6: a clean run on other traffic, or against another store's baseline of the same version
    // number, does not outweigh the cuts already shown against this store's baseline.
    recordSimulation(db, { ...base, result: result(3600, 0), baseline: b1 });
    refuse(
      () => applyProposal(db, { id: toEnforce, actor: 'alice' }),
      new RegExp(`zone control: simulation ${cuts} blocks 2 baseline flow`),
    );
    const foreign = { ...baseline(1), sources: ['other-site.pcap'], edges: {} };
    saveBaseline(db, { ...baseline(2), note: 'relearned after the historian moved' });
    recordSimulation(db, { ...base, result: result(3600, 0), baseline: foreign });
    refuse(
      () => applyProposal(db, { id: toEnforce, actor: 'alice' }),
      /simulation \S+ was judged against another baseline \(v1 [0-9a-f]{12}\), not the store's current one \(v2 [0-9a-f]{12}\): simulate again with --db/,
    );
    const clean = recordSimulation(db, {
      ...base,
      result: result(3600, 0),
      baseline: latestBaseline(db),
    });
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

/** A policy of the review's cc.mjs: sup → ctl, the control zone's mode, approvals and window as given. */
const ctlPolicy = (
  mode: string,
  approvals: string,
  extra = '',
  window = '10m',
): string => `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.40], mode: monitor, approvals: [${approvals}] }
  - { name: ctl, members: [10.0.1.0/24], mode: ${mode}, approvals: [${approvals}], simulation_window: ${window} }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: g, conduit: c, clients: [10.0.0.40], servers: [10.0.1.5], protocol: modbus${extra} }
`;

test('a policy change is governed by the policy in force: its approvers, its ladder and its simulation window', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cc-inforce-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    addUser(db, 'mallory', ['security']);
    addUser(db, 'sam', ['security']);
    addUser(db, 'eve', ['engineering']);
    addUser(db, 'otto', ['operations']);
    const refuse = (fn: () => unknown, re: RegExp): void =>
      assert.throws(fn, (e: unknown) => e instanceof ChangeRefused && re.test(e.message));
    const roles = (id: number): string[] =>
      listProposals(db).find((p) => p.id === id)!.requiredRoles;
    const all = 'security, engineering, operations';
    const approveAll = (id: number): void => {
      approveProposal(db, { id, actor: 'sam', role: 'security' });
      approveProposal(db, { id, actor: 'eve', role: 'engineering' });
      approveProposal(db, { id, actor: 'otto', role: 'operations' });
    };

    // Zones not in force stand below the ladder: a first policy starts them in observe.
    refuse(
      () =>
        submitPolicy(db, { text: ctlPolicy('simulate', all), source: 'v0.yaml', actor: 'mallory' }),
      /zone ctl is not in the policy in force, so it starts in observe/,
    );
    const v1text = ctlPolicy('observe', all).replace('mode: monitor', 'mode: observe');
    const v1 = submitPolicy(db, { text: v1text, source: 'v1.yaml', actor: 'mallory' });
    approveAll(v1);
    applyProposal(db, { id: v1, actor: 'sam' });
    // What lies outside the zones (here the time zone every window is read in) is every zone's change.
    const tz = submitPolicy(db, {
      text: v1text.replace('weir: policy/1\n', 'weir: policy/1\ntimezone: Europe/Berlin\n'),
      source: 'tz.yaml',
      actor: 'mallory',
    });
    assert.deepEqual(roles(tz), ['engineering', 'operations', 'security']);

    // The review's v2: ctl straight to simulate, approvals narrowed, group widened.
    refuse(
      () =>
        submitPolicy(db, {
          text: ctlPolicy('simulate', 'security', ', access: read-write'),
          source: 'v2.yaml',
          actor: 'mallory',
        }),
      /zone ctl is in observe in the policy in force; the ladder goes observe → monitor → simulate → enforce one rung at a time \(next: monitor\)/,
    );
    // Without the jump: the zones' owners in force still approve the narrowing of their own approvals.
    const v2 = submitPolicy(db, {
      text: ctlPolicy('observe', 'security', ', access: read-write').replace(
        'mode: monitor',
        'mode: observe',
      ),
      source: 'v2.yaml',
      actor: 'mallory',
    });
    assert.deepEqual(roles(v2), ['engineering', 'operations', 'security']);
    approveProposal(db, { id: v2, actor: 'sam', role: 'security' });
    refuse(
      () => applyProposal(db, { id: v2, actor: 'sam' }),
      /waiting for: engineering, operations/,
    );

    // A proposal stored with the roles the change chose for itself (before this rule) is refused at apply.
    const active = activePolicy(db)!;
    const forged = ctlPolicy('observe', 'security', ', access: read-write', '1s').replace(
      'mode: monitor',
      'mode: observe',
    );
    const fp = parsePolicy(forged, 'v3.yaml');
    assert.ok(fp.ok);
    const { sha, rulesSha } = policyHashes(fp.policy, forged);
    savePolicyText(db, { sha, rulesSha, source: 'v3.yaml', text: forged });
    const old = insertProposal(db, {
      kind: 'policy_change',
      zone: null,
      policySha: sha,
      baseSha: active.sha,
      requiredRoles: ['security'],
      createdBy: 'mallory',
      note: '',
      doc: { touched_zones: ['ctl', 'sup'] },
    });
    approveProposal(db, { id: old, actor: 'sam', role: 'security' });
    refuse(
      () => applyProposal(db, { id: old, actor: 'sam' }),
      /the policy in force makes this change need the approval of engineering, operations, security; missing: engineering, operations/,
    );
    assert.equal(activePolicy(db)!.sha, active.sha, 'nothing applied');

    // Up to simulate one rung at a time, then a change that lowers the window in the same breath as enforcing.
    for (const mode of ['monitor', 'simulate'] as const) {
      const id = promoteZone(db, { zone: 'ctl', to: mode, actor: 'mallory' });
      approveAll(id);
      applyProposal(db, { id, actor: 'sam' });
    }
    const text = ctlPolicy('enforce', all, '', '1s').replace('mode: monitor', 'mode: observe');
    const v4 = submitPolicy(db, { text, source: 'v4.yaml', actor: 'mallory' });
    approveAll(v4);
    const p4 = parsePolicy(text, 'v4.yaml');
    assert.ok(p4.ok);
    const b = baseline();
    saveBaseline(db, b);
    recordSimulation(db, {
      text,
      source: 'v4.yaml',
      policy: p4.policy,
      result: {
        ...result(60, 0),
        zones: {
          ctl: { mode: 'enforce', flows: 3, blockedFlows: 0, baselineBlocked: 0, ...COVERED },
        },
      },
      captures: ['minute.pcap'],
      baseline: b,
      actor: 'mallory',
    });
    refuse(
      () => applyProposal(db, { id: v4, actor: 'sam' }),
      /zone ctl: simulation \S+ covers 1 min of traffic, the zone requires 10 min/,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A store with the ctl zone simulating in force and an approved change to enforce it; simulations recorded on it. */
function coverageLab(dir: string) {
  const db = openStore(path.join(dir, 'weir.db'));
  addUser(db, 'mallory', ['security']);
  addUser(db, 'sam', ['security']);
  const stored = (text: string) => {
    const parsed = parsePolicy(text, 'p.yaml');
    assert.ok(parsed.ok);
    const h = policyHashes(parsed.policy, text);
    savePolicyText(db, { ...h, source: 'p.yaml', text });
    return { policy: parsed.policy, sha: h.sha };
  };
  const inForce = stored(ctlPolicy('simulate', 'security'));
  setActivePolicy(db, inForce.sha, null);
  const text = ctlPolicy('enforce', 'security');
  const parsed = stored(text);
  const id = insertProposal(db, {
    kind: 'policy_change',
    zone: null,
    policySha: parsed.sha,
    baseSha: inForce.sha,
    requiredRoles: ['security'],
    createdBy: 'mallory',
    note: '',
    doc: {},
  });
  approveProposal(db, { id, actor: 'sam', role: 'security' });
  const b = baseline();
  saveBaseline(db, b);
  const record = (zone: Record<string, unknown>): string =>
    recordSimulation(db, {
      text,
      source: 'p.yaml',
      policy: parsed.policy,
      result: {
        ...result(3600, 0),
        zones: {
          ctl: { mode: 'enforce', flows: 4, blockedFlows: 0, baselineBlocked: 0, ...zone },
        },
      },
      captures: ['hour.pcap'],
      baseline: b,
      actor: 'mallory',
    });
  const refusal = (): string => {
    try {
      applyProposal(db, { id, actor: 'sam' });
    } catch (e) {
      assert.ok(e instanceof ChangeRefused);
      return e.message;
    }
    return 'applied';
  };
  return { db, id, record, refusal };
}

test('simulation evidence must carry most of each enforcing zone’s baseline flows, by count and by learned requests', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cc-coverage-'));
  const { db, id, record, refusal } = coverageLab(dir);
  try {
    // Recorded before coverage was counted: it cannot say what it missed.
    const old = record({});
    assert.match(
      refusal(),
      new RegExp(`simulation ${old} was recorded before Weir counted which baseline flows`),
    );
    // Nine of ten flows, but not the one carrying most of the zone's requests.
    const light = {
      client: '10.0.0.40',
      server: '10.0.1.5',
      transport: 'tcp',
      port: 502,
      requests: 9000,
    };
    record({
      baselineFlows: 10,
      baselineSeen: 9,
      baselineRequests: 9900,
      baselineRequestsSeen: 900,
      unseen: [light],
    });
    assert.match(
      refusal(),
      /saw 9 of the zone's 10 baseline flows \(90%\) carrying 9% of their learned requests; at least 80% of both/,
    );
    assert.match(refusal(), /Not seen: 10\.0\.0\.40 → 10\.0\.1\.5 tcp\/502 \(9000 requests\)/);
    // A plant's own bar is the store's rule (set by an admin, audited), not the caller's (review 14 C1).
    setChangeRule(db, 'simulation_coverage_pct', 10, 'root');
    assert.throws(() => applyProposal(db, { id, actor: 'sam' }), /at least 10% of both/);
    setChangeRule(db, 'simulation_coverage_pct', 80, 'root');
    const good = record({
      baselineFlows: 10,
      baselineSeen: 8,
      baselineRequests: 9900,
      baselineRequestsSeen: 9800,
      unseen: [],
    });
    assert.equal(applyProposal(db, { id, actor: 'sam' }).simulationId, good);
    // The bar the change was judged by is on record.
    const applied = listAudit(db).find((e) => e.action === 'policy.applied')!;
    assert.equal(applied.details.simulation_coverage_pct, 80);
    assert.equal(
      listAudit(db).filter((e) => e.action === 'proposal.apply_refused').length >= 3,
      true,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('learned flows too occasional for the replay are judged by the rules: one the rules cut refuses the change (review 13, M6)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cc-occasional-'));
  const { db, record, refusal } = coverageLab(dir);
  try {
    const backup = {
      client: '10.0.0.40',
      server: '10.0.1.5',
      transport: 'tcp',
      port: 445,
      requests: 12,
    };
    record({ ...COVERED, baselineOccasional: 1, occasionalCut: [backup] });
    assert.match(
      refusal(),
      /zone ctl: the rules would cut 1 learned flow\(s\) too occasional for simulation \S+ to carry: 10\.0\.0\.40 → 10\.0\.1\.5 tcp\/445/,
    );
    // A later replay that leaves it out again does not make it less cut.
    record({ ...COVERED, baselineOccasional: 1 });
    assert.match(refusal(), /would cut 1 learned flow/);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
