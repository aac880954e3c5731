import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { addUser } from '../../src/store/change-store.js';
import { setPasswordHash } from '../../src/store/session-store.js';
import { hashPassword } from '../../src/server/passwords.js';
import { buildServer } from '../../src/server/app.js';
import { listAudit } from '../../src/store/audit-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { applyRuleset, permitFlow, status } from '../../src/enforce/nft.js';
import { writeApplied } from '../../src/enforce/state.js';
import { NftSession } from '../../src/enforce/nft-session.js';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { neverBlockAddresses } from '../../src/enforce/host-addresses.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import { undoPlaybookAction } from '../../src/respond/playbook-undo.js';
import type { Detection } from '../../src/detect/detection.js';
import { canBuildLab } from '../lab/plant.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';

const POLICY = (mode: string, mayBlock = '') => `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.40], mode: monitor }
  - name: control
    members: [10.77.0.21]
    mode: simulate
    playbooks:
      - name: contain
        mode: ${mode}
        on: [port_scan, new_edge]
        actions: [block_source, revoke_permits, notify]
        block_ttl: 5m
        ${mayBlock}
groups:
  - { name: hmi, clients: [10.77.0.10], servers: [10.77.0.21], protocol: modbus, access: read-write }
`;

let n = 0;
const det = (src: string, type: Detection['type'] = 'port_scan'): Detection => ({
  id: `d-k${++n}`,
  type,
  severity: 'high',
  ts: Date.now() / 1000,
  lastTs: Date.now() / 1000,
  count: 1,
  src,
  dst: '10.77.0.21',
  protocol: 'tcp',
  detail: '',
  zone: 'control',
  evidence: { frames: [1], fields: {} },
  explanation: 'scan',
  suggestedResponse: '',
  techniques: [],
});

test('playbooks against the real kernel: simulate changes nothing, baseline flows are never cut, act blocks and revokes, undo restores (CLI helpers and API)', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-pbk-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-pbk-'));
  execFileSync('ip', ['netns', 'add', ns]);
  const target = { family: 'bridge' as const, netns: ns };
  const db = openStore(path.join(dir, 'weir.db'));
  // The enforcement backend itself, over its persistent nft session, as the playbook host hands it in.
  const kernel = new NftBackend(target, dir, { persistent: true });
  const runner = (mode: string, mayBlock = '') => {
    const text = POLICY(mode, mayBlock);
    const r = parsePolicy(text, 'p.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return new PlaybookRunner({
      db,
      active: { policy: r.policy, sha: 'b'.repeat(64) },
      baseline: plantBaseline(),
      kernel,
      protectedAddresses: neverBlockAddresses({ netns: ns, stateDir: dir, extra: ['10.77.0.5'] }),
    });
  };
  try {
    const r = parsePolicy(POLICY('act'), 'p.yaml');
    assert.ok(r.ok);
    applyRuleset(target, compileRuleset(new CompiledPolicy(r.policy), { family: 'bridge' }));
    permitFlow(
      target,
      { client: '10.77.0.66', server: '10.77.0.21', transport: 'tcp', port: 502 },
      600,
    );
    const grantedAt = Date.now();
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.77.0.3/24', 'dev', 'lo']);

    // Simulate: recorded, nothing in the kernel.
    const sim = await runner('simulate').onDetection(det('10.77.0.66', 'new_edge'));
    assert.deepEqual(
      sim.map((a) => a.status),
      ['simulated', 'simulated', 'simulated'],
    );
    let st = status(target);
    assert.deepEqual(st.blocked, []);
    assert.equal(st.permits.length, 1, 'the permit is untouched');

    // Act: the HMI (baseline flows) and this host's own address are refused; nothing reaches the kernel.
    const act = runner('act');
    const [hmi] = await act.onDetection(det('10.77.0.10'));
    assert.equal(hmi!.status, 'refused');
    assert.match(hmi!.reason, /baseline flow/);
    const [self] = await act.onDetection(det('10.77.0.3'));
    assert.equal(self!.status, 'refused', "the enforcement host's own address");
    const [manager] = await act.onDetection(det('10.77.0.5'));
    assert.equal(manager!.status, 'refused', 'an address given with --never-block');
    assert.deepEqual(status(target).blocked, []);

    // A scan "from" the permit's holder (a forged source can fake one) neither blocks it nor revokes its permit.
    const spoofed = await act.onDetection(det('10.77.0.66'));
    assert.deepEqual(
      spoofed.map((a) => `${a.kind}:${a.status}`),
      ['block_source:refused', 'revoke_permits:refused', 'notify:done'],
    );
    assert.deepEqual(status(target).blocked, []);
    assert.equal(status(target).permits.length, 1, 'the permit is untouched');

    // The attacker, seen in a session of its own: blocked in the kernel with its ttl, its permit revoked.
    const rows = await act.onDetection(det('10.77.0.66', 'new_edge'));
    assert.deepEqual(
      rows.map((a) => `${a.kind}:${a.status}`),
      ['block_source:done', 'revoke_permits:done', 'notify:done'],
    );
    st = status(target);
    assert.deepEqual(
      st.blocked.map((b) => b.ip),
      ['10.77.0.66'],
    );
    assert.ok(st.blocked[0]!.expiresIn! > 280 && st.blocked[0]!.expiresIn! <= 300);
    assert.equal(st.permits.length, 0, 'the permit is revoked');

    // Named by the approvers, an address with baseline flows may be blocked.
    const named = await runner('act', 'may_block: [10.77.0.10]').onDetection(det('10.77.0.10'));
    assert.equal(named[0]!.status, 'done');
    assert.deepEqual(
      status(target)
        .blocked.map((b) => b.ip)
        .sort(),
      ['10.77.0.10', '10.77.0.66'],
    );

    // Undo through the API, as a person allowed to enforce; a viewer gets 403.
    writeApplied(dir, {
      sha: 'b'.repeat(64),
      source: 'p.yaml',
      text: '',
      appliedAt: new Date().toISOString(),
      actor: 'root',
      family: 'bridge',
      netns: ns,
      gatewayIp: null,
    });
    const hash = await hashPassword('pw-pw-pw-pw');
    for (const [u, roles] of [
      ['vera', ['viewer']],
      ['sam', ['security']],
    ] as const) {
      addUser(db, u, [...roles]);
      setPasswordHash(db, u, hash);
    }
    const app = await buildServer({ db, stateDir: dir });
    try {
      const cookie = async (u: string) => {
        const l = await app.inject({
          method: 'POST',
          url: '/api/session',
          payload: { user: u, password: 'pw-pw-pw-pw' },
        });
        return `weir_session=${l.cookies.find((c) => c.name === 'weir_session')!.value}`;
      };
      const listed = await app.inject({
        method: 'GET',
        url: '/api/playbooks',
        headers: { cookie: await cookie('vera') },
      });
      assert.equal(listed.statusCode, 200);
      assert.ok(
        (listed.json() as { actions: Array<{ id: string }> }).actions.some(
          (a) => a.id === rows[0]!.id,
        ),
      );
      const url = `/api/playbooks/actions/${rows[0]!.id}/undo`;
      const denied = await app.inject({
        method: 'POST',
        url,
        headers: { cookie: await cookie('vera') },
      });
      assert.equal(denied.statusCode, 403);
      const ok = await app.inject({
        method: 'POST',
        url,
        headers: { cookie: await cookie('sam') },
      });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal((ok.json() as { status: string }).status, 'undone');
      const again = await app.inject({
        method: 'POST',
        url,
        headers: { cookie: await cookie('sam') },
      });
      assert.equal(again.statusCode, 409, 'already undone');
      const none = await app.inject({
        method: 'POST',
        url: '/api/playbooks/actions/pa-000000000000/undo',
        headers: { cookie: await cookie('sam') },
      });
      assert.equal(none.statusCode, 404);
    } finally {
      await app.close();
    }
    assert.deepEqual(
      status(target).blocked.map((b) => b.ip),
      ['10.77.0.10'],
      'the attacker is unblocked in the kernel',
    );
    assert.ok(listAudit(db).some((e) => e.action === 'playbook.undone' && e.actor === 'sam'));

    // The revoked permit comes back, with about the time it had left.
    await undoPlaybookAction(db, { id: rows[1]!.id, actor: 'sam', roles: ['security'] }, kernel);
    const permits = status(target).permits;
    assert.equal(permits.length, 1);
    // What it had left is 600 s less the time since the grant (this test is slow under load: compare with that).
    const left = 600 - (Date.now() - grantedAt) / 1000;
    assert.ok(
      permits[0]!.expiresIn! > left - 10 && permits[0]!.expiresIn! <= left + 2,
      `${JSON.stringify(permits)}: about ${Math.round(left)} s left`,
    );
  } finally {
    kernel.close();
    db.close();
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one nft process: commands answer in order, an error belongs to its command, a dead process is replaced', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-nfs-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const s = new NftSession({ family: 'inet', netns: ns });
  try {
    await s.run('add table inet weir');
    await s.run('add set inet weir blocklist { type ipv4_addr; flags timeout; }');
    const results = await Promise.allSettled([
      s.run('add element inet weir blocklist { 10.0.0.1 timeout 60s }'),
      s.run('delete element inet weir blocklist { 10.0.0.9 }'),
      s.run('add element inet weir blocklist { 10.0.0.2 timeout 60s }'),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /No such file or directory/);
    assert.match(await s.run('list set inet weir blocklist'), /10\.0\.0\.1.*10\.0\.0\.2/s);
    await assert.rejects(
      s.run('add element inet weir blocklist { 1.2.3.4 }\nflush ruleset'),
      /one nft command/,
    );
    s.close();
    // A new process is started for the next command.
    await s.run('delete element inet weir blocklist { 10.0.0.1 }');
    assert.doesNotMatch(await s.run('list set inet weir blocklist'), /10\.0\.0\.1[^0-9]/);
  } finally {
    s.close();
    execFileSync('ip', ['netns', 'del', ns]);
  }
});
