// One refusal for every block (rev12 R4, R5): whoever asks — a playbook, `weir block`, an approved block proposal,
// a block from the fleet — the enforcement host, its gateway and routers, the manager, a subnet's own network and
// broadcast addresses and addresses no one host holds are never blocked; what is protected is read again at each
// block. A playbook never blocks a device of the baseline (flows or not) unless its may_block names it, and never on
// a contact whose source can be spoofed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BlockGuard,
  neverBlockRefusal,
  type NeverBlock,
} from '../../src/respond/playbook-guard.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import type { PlaybookKernel } from '../../src/respond/playbook-kernel.js';
import type { Detection } from '../../src/detect/detection.js';
import type { Playbook } from '../../src/policy/playbook-model.js';
import { parsePolicy } from '../../src/policy/load.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { insertProposal, savePolicyText, setActivePolicy } from '../../src/store/change-store.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { ChangeRefused, applyProposalVia, policyHashes } from '../../src/respond/change-control.js';
import { hostNeverBlock } from '../../src/enforce/host-addresses.js';
import { writeApplied } from '../../src/enforce/state.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';

/** The plant fixture's baseline plus 10.77.0.50: a PROFINET IO device (cyclic traffic on layer 2, no IP edge). */
function baseline() {
  const b = plantBaseline();
  b.assets = ['10.77.0.10', '10.77.0.21', '10.77.0.30', '10.77.0.40', '10.77.0.50'];
  return b;
}

const site: NeverBlock = { addresses: ['10.77.0.2'], subnets: ['10.77.0.1/24'] };

test('the playbook guard refuses a baseline device without IP flows, the subnet broadcast and network addresses, 0/8 and 169.254/16 (rev12 R5)', () => {
  const g = new BlockGuard(baseline(), () => site);
  const pb = { mayBlock: [] } as unknown as Playbook;
  const said = (ip: string): string => g.refusal(pb, ip)?.reason ?? 'BLOCKED';
  assert.match(said('10.77.0.21'), /has 2 baseline flow\(s\)/);
  assert.match(
    said('10.77.0.50'),
    /10\.77\.0\.50 is a device of the baseline \(no learned IP flows\)/,
  );
  assert.match(said('10.77.0.255'), /broadcast address of 10\.77\.0\.0\/24/);
  assert.match(said('10.77.0.0'), /network address of 10\.77\.0\.0\/24/);
  assert.match(said('0.1.2.3'), /not a unicast host address/);
  assert.match(said('169.254.0.1'), /not a unicast host address/);
  assert.match(said('10.77.0.2'), /enforcement host, its gateway or router, or the manager/);
  assert.equal(said('10.77.0.66'), 'BLOCKED', 'an unknown address is blocked as before');
  // Named by may_block, the device may be blocked, but never on a contact whose source can be forged.
  const named = { mayBlock: ['10.77.0.50'] } as unknown as Playbook;
  assert.equal(g.refusal(named, '10.77.0.50'), null);
  assert.match(g.refusal(named, '10.77.0.50', true)!.reason, /can be spoofed/);
  // An unknown source is blocked on any contact, spoofable or not (as before).
  assert.equal(g.refusal(pb, '10.77.0.66', true), null);
  // A /31 or /32 has no network or broadcast address.
  assert.equal(neverBlockRefusal('10.9.0.0', { addresses: [], subnets: ['10.9.0.1/31'] }), null);
});

class Kernel implements PlaybookKernel {
  calls: string[] = [];
  async block(a: string): Promise<void> {
    this.calls.push(`block ${a}`);
  }
  async unblock(): Promise<void> {}
  async permits() {
    return [];
  }
  grantedPermits() {
    return [];
  }
  async revokePermit(): Promise<void> {}
  async restorePermit(): Promise<void> {}
}

const POLICY = `weir: policy/1
timezone: UTC
zones:
  - name: control
    members: [10.77.0.0/24]
    approvals: [security]
    playbooks:
      - name: decoy-touch
        mode: act
        on: [decoy_contact]
        when: { min_severity: critical }
        actions: [block_source]
        may_block: [10.77.0.50]
        block_ttl: 10m
        rate_limit: { max: 50, per: 1h }
`;

const contact = (id: string, src: string, fields: Record<string, unknown> = {}): Detection => ({
  id,
  type: 'decoy_contact',
  severity: 'critical',
  ts: 1,
  lastTs: 1,
  count: 1,
  src,
  dst: '10.77.0.99',
  protocol: 'ip',
  detail: fields.spoofable ? 'spoofable' : '',
  zone: 'control',
  evidence: { frames: [1], fields: { decoy: '10.77.0.99', ...fields } },
  explanation: '',
  suggestedResponse: '',
  techniques: [],
});

test('a playbook reads what is never blocked again at each block, refuses a spoofable contact from a known device, and audits each refusal (rev12 R4, R5)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-blockref-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    const r = parsePolicy(POLICY, 'policy.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    // The gateway is set up after the runner started: the next block sees it.
    let gateway: string | null = null;
    const kernel = new Kernel();
    const runner = new PlaybookRunner({
      db,
      active: { policy: r.policy, sha: 'c'.repeat(64) },
      baseline: baseline(),
      kernel,
      protectedAddresses: () => ({
        addresses: gateway === null ? [] : [gateway],
        subnets: ['10.77.0.1/24'],
      }),
      now: () => 1_800_000_000,
    });
    const out: string[] = [];
    const run = async (d: Detection) => {
      for (const a of await runner.onDetection(d)) out.push(`${a.target} ${a.status}: ${a.reason}`);
    };
    await run(contact('d-1', '10.77.0.5'));
    gateway = '10.77.0.6';
    await run(contact('d-2', '10.77.0.6'));
    await run(contact('d-3', '10.77.0.50', { spoofable: true, ip_proto: 17 }));
    await run(contact('d-4', '10.77.0.50', { tcp_handshake: 'completed', ip_proto: 6 }));
    await run(contact('d-5', '10.77.0.255', { ip_proto: 17 }));
    assert.deepEqual(kernel.calls, ['block 10.77.0.5', 'block 10.77.0.50']);
    assert.match(out[1]!, /^10\.77\.0\.6 refused: .*gateway or router/);
    assert.match(out[2]!, /^10\.77\.0\.50 refused: .*can be spoofed/);
    assert.match(out[4]!, /^10\.77\.0\.255 refused: .*broadcast address/);
    const audit = listAudit(db).map((e) => `${e.action} ${e.subject}`);
    for (const a of ['10.77.0.6', '10.77.0.50', '10.77.0.255'])
      assert.ok(audit.includes(`playbook.block_source.refused ${a}`), audit.join('\n'));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an approved block proposal of the host's gateway or a subnet broadcast is refused and audited, never carried out (rev12 R4)", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-blockref-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    const text = `weir: policy/1\nzones:\n  - { name: control, members: [10.77.0.21], approvals: [security] }\n`;
    const r = parsePolicy(text, 'plant.yaml');
    if (!r.ok) throw new Error('test policy invalid');
    const { sha, rulesSha } = policyHashes(r.policy, text);
    savePolicyText(db, { sha, rulesSha, source: 'plant.yaml', text });
    setActivePolicy(db, sha, null);
    saveBaseline(db, plantBaseline());
    // The host as `weir policy apply` reads it: the gateway `enforce apply` set up, in its state dir.
    const stateDir = path.join(dir, 'state');
    writeApplied(stateDir, {
      sha,
      source: 'plant.yaml',
      text,
      appliedAt: new Date().toISOString(),
      actor: 'sec',
      family: 'bridge',
      gatewayIp: '10.77.0.2',
    });
    const never = hostNeverBlock({ stateDir, extra: [], subnets: ['10.77.0.0/24'] });
    const carried: string[] = [];
    for (const ip of ['10.77.0.2', '10.77.0.255']) {
      const id = insertProposal(db, {
        kind: 'source_block',
        zone: 'control',
        policySha: sha,
        baseSha: sha,
        requiredRoles: ['security'],
        createdBy: 'ana',
        note: '',
        doc: { ip, ttl_s: 600 },
      });
      db.prepare("UPDATE proposals SET status = 'approved' WHERE id = ?").run(id);
      await assert.rejects(
        applyProposalVia(db, {
          id,
          actor: 'sec',
          confirmCutsBaseline: true,
          neverBlock: never,
          carryOutBlock: async (b) => carried.push(b.ip),
        }),
        (e: Error) => e instanceof ChangeRefused && e.message.includes(ip),
      );
    }
    assert.deepEqual(carried, []);
    const refused = listAudit(db).filter((e) => e.action === 'proposal.apply_refused');
    assert.equal(refused.length, 2);
    assert.match(String((refused[0]!.details.problems as string[])[0]), /gateway/);
    assert.match(String((refused[1]!.details.problems as string[])[0]), /broadcast/);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a host whose addresses cannot be read refuses every block rather than guess (review 12b, B6)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-nb-'));
  try {
    // A namespace that is not there: `ip` fails, as it would when missing, timed out or its namespace gone.
    const never = hostNeverBlock({ netns: 'weir-no-such-ns-b6', stateDir: dir, extra: [] });
    assert.match(String(never.unreadable), /ip addr/);
    assert.match(
      String(neverBlockRefusal('10.77.0.66', never)),
      /addresses and routes cannot be read.*no block is made/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
