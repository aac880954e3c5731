import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Db } from '../../src/store/db.js';
import { checkAudit, listAudit } from '../../src/store/audit-store.js';
import { listPlaybookActions } from '../../src/store/playbook-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import { undoPlaybookAction } from '../../src/respond/playbook-undo.js';
import {
  RestoreRefused,
  type PlaybookKernel,
  type RevokedPermit,
  type TemporaryPermit,
} from '../../src/respond/playbook-kernel.js';
import type { Detection } from '../../src/detect/detection.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';

// The decisions of the runner, against a kernel that records what it is told (the real nftables side is
// tested in a network namespace: test/enforce/playbook-kernel.test.ts).
class RecordingKernel implements PlaybookKernel {
  blocked = new Map<string, number>();
  calls: string[] = [];
  permitList: TemporaryPermit[] = [];
  async block(a: string, ttl: number): Promise<void> {
    this.calls.push(`block ${a} ${ttl}`);
    this.blocked.set(a, ttl);
  }
  async unblock(a: string): Promise<void> {
    this.calls.push(`unblock ${a}`);
    if (!this.blocked.delete(a)) throw new Error('no such element');
  }
  async permits(): Promise<TemporaryPermit[]> {
    return this.permitList;
  }
  grantedPermits(): TemporaryPermit[] {
    return this.permitList;
  }
  async revokePermit(p: TemporaryPermit, _why?: string): Promise<RevokedPermit | void> {
    this.calls.push(`revoke ${p.client}>${p.server}`);
    this.permitList = this.permitList.filter((x) => x !== p);
  }
  async restorePermit(
    p: TemporaryPermit,
    ttl: number,
    _why?: string,
    _revoked?: RevokedPermit,
  ): Promise<void> {
    this.calls.push(`restore ${p.client}>${p.server} ${ttl}`);
    this.permitList.push({ ...p, expiresIn: ttl });
  }
}

const POLICY = (mode: string, extra = '') => `weir: policy/1
timezone: UTC
assets:
  - { name: HMI-1, ip: 10.77.0.10 }
zones:
  - { name: supervisory, members: [10.77.0.10, 10.77.0.30], approvals: [security] }
  - name: control
    members: [10.77.0.21, 10.77.0.22]
    approvals: [security, engineering]
    playbooks:
      - name: contain-scans
        mode: ${mode}
        on: [port_scan, new_edge]
        when: { min_severity: medium, source_not_in: [supervisory] }
        actions: [block_source, revoke_permits, notify]
        block_ttl: 10m
        rate_limit: { max: 3, per: 1h }
${extra}`;

let seq = 0;
const det = (
  src: string,
  type: Detection['type'] = 'port_scan',
  severity: Detection['severity'] = 'high',
): Detection => ({
  id: `d-${++seq}`,
  type,
  severity,
  ts: Date.now() / 1000 - 0.01,
  lastTs: Date.now() / 1000,
  count: 1,
  src,
  dst: '10.77.0.21',
  protocol: 'tcp',
  detail: '',
  zone: 'control',
  evidence: { frames: [1], fields: {} },
  explanation: `${src} probed ports`,
  suggestedResponse: '',
  techniques: [],
});

function setup(
  text: string,
  protectedAddresses: string[] = ['10.77.0.2'],
): { db: Db; kernel: RecordingKernel; runner: PlaybookRunner; events: string[]; done: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-pb-'));
  const db = openStore(path.join(dir, 'weir.db'));
  const r = parsePolicy(text, 'policy.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const kernel = new RecordingKernel();
  const events: string[] = [];
  const runner = new PlaybookRunner({
    db,
    active: { policy: r.policy, sha: 'a'.repeat(64) },
    baseline: plantBaseline(),
    kernel,
    protectedAddresses,
    onAction: (a) => events.push(`${a.kind}:${a.status}:${a.target}`),
  });
  return {
    db,
    kernel,
    runner,
    events,
    done: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('act: an unknown scanner is blocked at once, notified, and audited with the detection and the policy version', async () => {
  const s = setup(POLICY('act'));
  try {
    const d = det('10.77.0.66');
    const rows = await s.runner.onDetection(d);
    assert.deepEqual(s.kernel.calls, ['block 10.77.0.66 600']);
    assert.deepEqual(
      rows.map((a) => `${a.kind}:${a.status}`),
      ['block_source:done', 'notify:done'],
      'no permit of the source to revoke',
    );
    assert.deepEqual(s.events, ['block_source:done:10.77.0.66', 'notify:done:10.77.0.66']);
    const block = rows[0]!;
    assert.equal(block.detectionId, d.id);
    assert.equal(block.policySha, 'a'.repeat(64));
    assert.ok(block.expiresAt! > Date.now() / 1000 + 590);
    const audit = listAudit(s.db).find((e) => e.action === 'playbook.block_source')!;
    assert.equal(audit.actor, 'playbook control/contain-scans');
    assert.equal(audit.subject, '10.77.0.66');
    assert.equal(audit.details.detection_id, d.id);
    assert.equal(audit.details.action_id, block.id);
    assert.equal(audit.details.policy, 'a'.repeat(12));
    assert.equal(checkAudit(s.db).status, 'intact');
    // A second detection of the same source while it is blocked changes nothing in the kernel.
    const again = await s.runner.onDetection(det('10.77.0.66', 'new_edge'));
    assert.equal(again[0]!.status, 'refused');
    assert.match(again[0]!.reason, /already blocked/);
    assert.equal(s.kernel.calls.length, 1);
  } finally {
    s.done();
  }
});

test('never blocks an address with baseline flows, unless the playbook names it; never the enforcement host', async () => {
  // The engineering station 10.77.0.30 has a learned S7 flow to the PLC; it is outside the supervisory zone here.
  const s = setup(POLICY('act').replace('10.77.0.10, 10.77.0.30', '10.77.0.10'));
  try {
    const [refused] = await s.runner.onDetection(det('10.77.0.30'));
    assert.equal(refused!.status, 'refused');
    assert.match(refused!.reason, /baseline flow/);
    assert.deepEqual(
      (refused!.details.cuts_baseline as Array<{ server: string; service: string }>).map(
        (c) => `${c.server} ${c.service}`,
      ),
      ['10.77.0.21 tcp/102'],
    );
    assert.deepEqual(s.kernel.calls, [], 'nothing reached the kernel');
    assert.ok(
      listAudit(s.db).some(
        (e) => e.action === 'playbook.block_source.refused' && e.subject === '10.77.0.30',
      ),
      'the refusal is audited too',
    );
    // The gateway (protected) is never blocked, whatever it does.
    const [gw] = await s.runner.onDetection(det('10.77.0.2'));
    assert.equal(gw!.status, 'refused');
    assert.match(gw!.reason, /enforcement host/);
    // Not unicast: never.
    assert.equal((await s.runner.onDetection(det('255.255.255.255')))[0]!.status, 'refused');
    assert.deepEqual(s.kernel.calls, []);
  } finally {
    s.done();
  }
  // Named explicitly by the approvers: the block goes ahead.
  const named = setup(
    POLICY('act')
      .replace('10.77.0.10, 10.77.0.30', '10.77.0.10')
      .replace('block_ttl: 10m', 'block_ttl: 10m\n        may_block: [10.77.0.30]'),
  );
  try {
    const [a] = await named.runner.onDetection(det('10.77.0.30'));
    assert.equal(a!.status, 'done');
    assert.deepEqual(named.kernel.calls, ['block 10.77.0.30 600']);
  } finally {
    named.done();
  }
});

test('conditions: severity below the minimum and sources in an excluded zone trigger nothing', async () => {
  const s = setup(POLICY('act'));
  try {
    assert.deepEqual(await s.runner.onDetection(det('10.77.0.66', 'port_scan', 'low')), []);
    assert.deepEqual(await s.runner.onDetection(det('10.77.0.10')), [], 'the HMI is supervisory');
    assert.deepEqual(await s.runner.onDetection(det('10.77.0.66', 'cpu_stop')), []);
    assert.deepEqual(
      await s.runner.onDetection({ ...det('10.77.0.66'), zone: 'supervisory' }),
      [],
      'a zone without playbooks',
    );
    assert.deepEqual(s.kernel.calls, []);
  } finally {
    s.done();
  }
});

test('rate limit: past max actions per window the playbook refuses and the kernel hears nothing more', async () => {
  const s = setup(
    POLICY('act').replace('[block_source, revoke_permits, notify]', '[block_source]'),
  );
  try {
    const rows = [];
    for (let i = 0; i < 6; i++)
      rows.push(...(await s.runner.onDetection(det(`10.77.0.${100 + i}`))));
    assert.deepEqual(
      rows.map((r) => r.status),
      ['done', 'done', 'done', 'refused', 'refused', 'refused'],
    );
    assert.match(rows[3]!.reason, /rate limit: 3 action\(s\) per 3600 s/);
    assert.equal(s.kernel.calls.length, 3);
    // Notices are not limited: the refusals are still told.
    const n = setup(
      POLICY('act').replace('[block_source, revoke_permits, notify]', '[block_source, notify]'),
    );
    try {
      const told = [];
      for (let i = 0; i < 5; i++)
        told.push(...(await n.runner.onDetection(det(`10.77.2.${i + 1}`))));
      assert.deepEqual(
        told.filter((r) => r.kind === 'block_source').map((r) => r.status),
        ['done', 'done', 'done', 'refused', 'refused'],
      );
      assert.equal(told.filter((r) => r.kind === 'notify' && r.status === 'done').length, 5);
    } finally {
      n.done();
    }
    // Detections arriving together are limited as well (actions under way count).
    const t = setup(
      POLICY('act').replace('[block_source, revoke_permits, notify]', '[block_source]'),
    );
    try {
      const all = await Promise.all(
        [1, 2, 3, 4, 5].map((i) => t.runner.onDetection(det(`10.77.1.${i}`))),
      );
      assert.equal(all.flat().filter((r) => r.status === 'done').length, 3);
      assert.equal(t.kernel.calls.length, 3);
    } finally {
      t.done();
    }
  } finally {
    s.done();
  }
});

test('simulate: every decision is recorded and audited as it would be, and the kernel is never told', async () => {
  const s = setup(POLICY('simulate'));
  try {
    s.kernel.permitList = [
      { client: '10.77.0.66', server: '10.77.0.21', transport: 'tcp', port: 502, expiresIn: 300 },
    ];
    const rows = await s.runner.onDetection(det('10.77.0.66', 'new_edge'));
    assert.deepEqual(
      rows.map((a) => `${a.kind}:${a.status}`),
      ['block_source:simulated', 'revoke_permits:simulated', 'notify:simulated'],
    );
    assert.deepEqual(s.kernel.calls, []);
    assert.equal(s.kernel.permitList.length, 1);
    assert.ok(listAudit(s.db).some((e) => e.action === 'playbook.block_source.simulated'));
    assert.equal(rows[0]!.expiresAt, null);
    // The guard rails hold in simulation too: what it shows is what acting would do.
    const [guarded] = await s.runner.onDetection(det('10.77.0.30'));
    assert.equal(guarded, undefined, 'the engineering station is supervisory here');
  } finally {
    s.done();
  }
});

test('undo: a person allowed to enforce lifts the block (audited); viewers may not; the playbook does not block the address again', async () => {
  const s = setup(POLICY('act'));
  try {
    s.kernel.permitList = [
      { client: '10.77.0.66', server: '10.77.0.21', transport: 'tcp', port: 502, expiresIn: 300 },
    ];
    // A new edge takes a session; a scan, which a forged source can fake, revokes no permit (playbook-spoof.test.ts).
    const rows = await s.runner.onDetection(det('10.77.0.66', 'new_edge'));
    const block = rows.find((r) => r.kind === 'block_source')!;
    const revoke = rows.find((r) => r.kind === 'revoke_permits')!;
    const notice = rows.find((r) => r.kind === 'notify')!;
    assert.equal(revoke.status, 'done');
    assert.equal(revoke.target, '10.77.0.66 → 10.77.0.21 tcp/502');
    assert.equal(s.kernel.permitList.length, 0, 'the permit is revoked');
    await assert.rejects(
      undoPlaybookAction(s.db, { id: block.id, actor: 'vic', roles: ['viewer'] }, s.kernel),
      /may not undo/,
    );
    assert.ok(
      listAudit(s.db).some((e) => e.action === 'playbook.undo_refused' && e.actor === 'vic'),
    );
    assert.ok(s.kernel.blocked.has('10.77.0.66'), 'still blocked');
    const undone = await undoPlaybookAction(
      s.db,
      { id: block.id, actor: 'sam', roles: ['security'] },
      s.kernel,
    );
    assert.equal(undone.status, 'undone');
    assert.equal(undone.undoneBy, 'sam');
    assert.ok(!s.kernel.blocked.has('10.77.0.66'), 'the kernel no longer blocks it');
    const entry = listAudit(s.db).find((e) => e.action === 'playbook.undone')!;
    assert.equal(entry.actor, 'sam');
    assert.equal(entry.subject, block.id);
    assert.equal(entry.details.detection_id, block.detectionId);
    await assert.rejects(
      undoPlaybookAction(s.db, { id: block.id, actor: 'sam', roles: ['security'] }, s.kernel),
      /already undone/,
    );
    // The revoked permit comes back for about the time it had left.
    await undoPlaybookAction(
      s.db,
      { id: revoke.id, actor: 'sam', roles: ['operations'] },
      s.kernel,
    );
    assert.match(s.kernel.calls.at(-1)!, /^restore 10\.77\.0\.66>10\.77\.0\.21 (29[0-9]|300)$/);
    await assert.rejects(
      undoPlaybookAction(s.db, { id: notice.id, actor: 'sam', roles: ['security'] }, s.kernel),
      /nothing to undo/,
    );
    await assert.rejects(
      undoPlaybookAction(s.db, { id: 'pa-nope', actor: 'sam', roles: ['security'] }, s.kernel),
      /no playbook action/,
    );
    // A person judged it a false positive: within the block's time the playbook leaves the address alone.
    const [again] = await s.runner.onDetection(det('10.77.0.66', 'new_edge'));
    assert.equal(again!.status, 'refused');
    assert.match(again!.reason, /sam undid block/);
    assert.equal(s.kernel.calls.filter((c) => c.startsWith('block')).length, 1);
    assert.deepEqual(
      listPlaybookActions(s.db)
        .filter((a) => a.kind === 'block_source')
        .map((a) => a.status),
      ['refused', 'undone'],
    );
  } finally {
    s.done();
  }
});

// Review 14b, F6: the undo restores a revoked permit as the kernel held it; one it cannot restore without going
// wider (a scoped permit whose scope is lost) is refused, audited, and the action stays done.
test('undo: a revoked permit goes back with what the kernel said of it; a restore that would go wider is refused and audited', async () => {
  const s = setup(POLICY('act'));
  try {
    const told: unknown[] = [];
    const scope = { template: 'plc-maint', user: 'alice' };
    let refuse = false;
    s.kernel.revokePermit = async (p) => {
      s.kernel.permitList = s.kernel.permitList.filter((x) => x !== p);
      return { set: 'permits_scoped', scope };
    };
    s.kernel.restorePermit = async (_p, _ttl, _why, revoked) => {
      told.push(revoked);
      if (refuse) throw new RestoreRefused('its scope cannot be read: not put back plain');
    };
    s.kernel.permitList = [
      { client: '10.77.0.66', server: '10.77.0.21', transport: 'tcp', port: 502, expiresIn: 300 },
    ];
    const rows = await s.runner.onDetection(det('10.77.0.66', 'new_edge'));
    const revoke = rows.find((r) => r.kind === 'revoke_permits')!;
    assert.equal(revoke.status, 'done');
    assert.deepEqual(revoke.details.revoked, { set: 'permits_scoped', scope }, 'kept for the undo');
    refuse = true;
    await assert.rejects(
      undoPlaybookAction(s.db, { id: revoke.id, actor: 'sam', roles: ['security'] }, s.kernel),
      /not put back plain/,
    );
    assert.deepEqual(told, [{ set: 'permits_scoped', scope }]);
    const e = listAudit(s.db).find((x) => x.action === 'playbook.undo_refused')!;
    assert.match(String(e.details.reason), /not put back plain/);
    assert.equal(listPlaybookActions(s.db).find((a) => a.id === revoke.id)!.status, 'done');
    refuse = false;
    await undoPlaybookAction(s.db, { id: revoke.id, actor: 'sam', roles: ['security'] }, s.kernel);
    assert.equal(told.length, 2);
  } finally {
    s.done();
  }
});
