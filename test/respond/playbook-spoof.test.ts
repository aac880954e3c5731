// Spoofed SYNs "from" a maintenance laptop must not end its permit or block it mid-session (review 12, R12). The
// scan detector counts bare SYNs, UDP datagrams and ICMP echoes per source address — all sendable with a forged
// source — and the README's playbook (source_unknown: a laptop holding a permit is no baseline asset) would
// withdraw every permit to or from that address and block it. Against a kernel that records what it is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import type { PlaybookKernel, TemporaryPermit } from '../../src/respond/playbook-kernel.js';
import { PermitView } from '../../src/respond/permit-view.js';
import type { Detection } from '../../src/detect/detection.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';

const POLICY = `weir: policy/1
timezone: UTC
assets: [{ name: HMI-1, ip: 10.77.0.10 }, { name: PLC-1, ip: 10.77.0.21 }, { name: EWS-1, ip: 10.77.0.30 }]
zones:
  - { name: supervisory, members: [HMI-1, EWS-1], mode: monitor }
  - name: control
    members: [PLC-1]
    mode: monitor
    playbooks:
      - name: contain
        mode: act
        on: [port_scan, host_scan, new_edge, decoy_contact]
        when: { min_severity: medium, source_not_in: [supervisory] }
        actions: [block_source, revoke_permits, notify]
        block_ttl: 15m
        rate_limit: { max: 5, per: 10m }
`;

const LAPTOP = '10.77.0.77',
  PLC = '10.77.0.21';

function runner(permits: TemporaryPermit[], recorded: TemporaryPermit[] = permits) {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-spoof-'));
  const db = openStore(path.join(dir, 'w.db'));
  const r = parsePolicy(POLICY, 'p.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const calls: string[] = [];
  const kernel: PlaybookKernel = {
    block: async (a, t) => void calls.push(`block ${a} ${t}`),
    unblock: async () => undefined,
    permits: async () => {
      calls.push('list');
      return permits;
    },
    grantedPermits: () => recorded,
    revokePermit: async (p) => void calls.push(`revoke ${p.client}>${p.server}`),
    restorePermit: async () => undefined,
  };
  const run = new PlaybookRunner({
    db,
    active: { policy: r.policy, sha: 'x'.repeat(64) },
    baseline: plantBaseline(),
    kernel,
    protectedAddresses: [],
  });
  return {
    db,
    /** What changed the kernel (its listings apart). */
    get calls() {
      return calls.filter((c) => c !== 'list');
    },
    listings: () => calls.filter((c) => c === 'list').length,
    run,
    done: () => (db.close(), rmSync(dir, { recursive: true, force: true })),
  };
}

const det = (src: string, type: Detection['type'] = 'port_scan'): Detection => ({
  id: `d-${src}-${type}`,
  type,
  severity: 'high',
  ts: Date.now() / 1000,
  lastTs: Date.now() / 1000,
  count: 1,
  src,
  dst: PLC,
  protocol: 'tcp',
  detail: '',
  zone: 'control',
  evidence: { frames: [1], fields: {} },
  explanation: 'SYNs to 20 ports',
  suggestedResponse: '',
  techniques: [],
});

const PERMIT: TemporaryPermit = {
  client: LAPTOP,
  server: PLC,
  transport: 'tcp',
  port: 102,
  expiresIn: 5400,
};

test('a scan "from" a laptop holding a live permit neither revokes the permit nor blocks it: refused, recorded, notified', async () => {
  const s = runner([PERMIT]);
  try {
    const rows = await s.run.onDetection(det(LAPTOP));
    assert.deepEqual(s.calls, [], 'the kernel was told nothing');
    assert.deepEqual(
      rows.map((a) => `${a.kind}:${a.status}`),
      ['block_source:refused', 'revoke_permits:refused', 'notify:done'],
    );
    for (const a of rows.slice(0, 2)) assert.match(a.reason, /forged source address.*live permit/);
    assert.ok(listAudit(s.db).some((e) => e.action === 'playbook.revoke_permits.refused'));
  } finally {
    s.done();
  }
});

test('a sweep with the PLC as forged source does not revoke the permits to the PLC', async () => {
  const s = runner([PERMIT]);
  try {
    const rows = await s.run.onDetection(det(PLC, 'host_scan'));
    assert.ok(!s.calls.some((c) => c.startsWith('revoke')), JSON.stringify(s.calls));
    assert.equal(rows.find((a) => a.kind === 'revoke_permits')?.status, 'refused');
  } finally {
    s.done();
  }
});

test('scanners without a permit are still blocked; a detection resting on a session still revokes', async () => {
  const s = runner([PERMIT]);
  try {
    await s.run.onDetection(det('10.77.0.66'));
    assert.deepEqual(s.calls, ['block 10.77.0.66 900']);
    await s.run.onDetection(det(LAPTOP, 'new_edge'));
    assert.deepEqual(s.calls.slice(1), [`block ${LAPTOP} 900`, `revoke ${LAPTOP}>${PLC}`]);
  } finally {
    s.done();
  }
});

test('a decoy contact "from" a permit holder acts only once its source completed the handshake (review 12b, B4)', async () => {
  const s = runner([PERMIT]);
  try {
    // One forged UDP datagram to a decoy in the laptop's name.
    const rows = await s.run.onDetection(det(LAPTOP, 'decoy_contact'));
    assert.deepEqual(s.calls, [], 'the kernel was told nothing');
    assert.deepEqual(
      rows.map((a) => `${a.kind}:${a.status}`),
      ['block_source:refused', 'revoke_permits:refused', 'notify:done'],
    );
    // A contact whose source answered the decoy's SYN-ACK is its own: acted on.
    const proven = det(LAPTOP, 'decoy_contact');
    proven.id = 'd-proven';
    proven.evidence.fields = { tcp_handshake: 'completed' };
    await s.run.onDetection(proven);
    assert.deepEqual(s.calls, [`block ${LAPTOP} 900`, `revoke ${LAPTOP}>${PLC}`]);
    // A source holding no permit is blocked on any contact, as before.
    await s.run.onDetection(det('10.77.0.66', 'decoy_contact'));
    assert.equal(s.calls.at(-1), 'block 10.77.0.66 900');
  } finally {
    s.done();
  }
});

test('a permit granted a moment ago is seen by the next block, with no kernel listing kept warm (session 12 note)', async () => {
  // The records grow as `weir permit` writes them; the kernel's listing knows only what it held at the start.
  const recorded: TemporaryPermit[] = [];
  const s = runner([], recorded);
  try {
    await sleep(50);
    assert.equal(s.listings(), 1, 'the kernel is listed once, at the start');
    recorded.push(PERMIT);
    const rows = await s.run.onDetection(det(LAPTOP));
    assert.equal(rows[0]!.status, 'refused', 'the fresh permit protects its holder at once');
    assert.deepEqual(s.calls, []);
    // Its revoke_permits lists the kernel once (what to withdraw); nothing lists it while nothing happens.
    const after = s.listings();
    await sleep(2500);
    assert.equal(s.listings(), after, 'no listing every second: no nft processes');
  } finally {
    s.done();
  }
});

test('the permit view: records first, kernel-only permits from one listing until their time runs out, unreadable records refuse', async () => {
  let t = 0,
    reads = 0,
    broken = false;
  const OLD: TemporaryPermit = { ...PERMIT, client: '10.77.0.78', expiresIn: 10 };
  const view = new PermitView(
    () => {
      if (broken) throw new Error('permits.json holds no list of permits');
      return [PERMIT];
    },
    async () => {
      reads++;
      return [OLD, PERMIT];
    },
    () => t,
  );
  view.start();
  await view.seeded();
  assert.deepEqual(
    view.current().map((p) => p.client),
    [LAPTOP, OLD.client],
    'a permit given before records were kept',
  );
  t = 11_000;
  assert.deepEqual(
    view.current().map((p) => p.client),
    [LAPTOP],
    'it ends when the kernel said it would',
  );
  assert.equal(reads, 1);
  broken = true;
  assert.throws(() => view.current(), /no list of permits/);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
