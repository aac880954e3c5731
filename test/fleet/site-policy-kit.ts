// A site's change control in its own store, for the manager to aggregate: an active policy (zones with ladder
// modes and a playbook), proposals with approvals, and playbook actions, written as change control leaves them.
import type { Db } from '../../src/store/db.js';
import { savePolicyText, setActivePolicy } from '../../src/store/change-store.js';
import { insertProposal, addApproval } from '../../src/store/change-store.js';
import { insertPlaybookAction } from '../../src/store/playbook-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';

/**
 * Site a's policy (addresses 10.1.0.0/24, as seedSite gives it): `control` holds its PLCs, `other-cell`
 * names site b's address plan (10.2.0.0/16), which a does not hold.
 */
export const SITE_POLICY = (controlMode = 'monitor', site = 'a'): string => `weir: policy/1
site: ${site}
timezone: UTC
zones:
  - name: control
    members: [10.1.0.0/24]
    mode: ${controlMode}
    approvals: [security, engineering]
    playbooks:
      - name: contain-scans
        mode: act
        on: [port_scan]
        actions: [block_source, notify]
        block_ttl: 10m
        rate_limit: { max: 5, per: 10m }
  - { name: other-cell, members: [10.2.0.0/16], mode: observe }
conduits: []
groups: []
`;

/** Make `text` the store's active policy, as an applied proposal leaves it. */
export function setPolicy(db: Db, text: string, source = 'policy.yaml'): string {
  const r = parsePolicy(text, source);
  if (!r.ok) throw new Error(`test policy invalid: ${JSON.stringify(r.errors)}`);
  const { sha, rulesSha } = policyHashes(r.policy, text);
  savePolicyText(db, { sha, rulesSha, source, text });
  setActivePolicy(db, sha, null);
  return sha;
}

/** A zone promotion proposal, open, needing security and engineering. */
export function propose(db: Db, policySha: string, by = 'eve'): number {
  return insertProposal(db, {
    kind: 'zone_promotion',
    zone: 'control',
    policySha,
    baseSha: null,
    requiredRoles: ['security', 'engineering'],
    createdBy: by,
    note: 'control to enforce',
    doc: { to: 'enforce' },
  });
}

export function approve(db: Db, id: number, user: string, role: string): void {
  addApproval(db, { proposalId: id, user, role, note: '' });
}

/** A block the site's contain-scans playbook carried out. */
export function playbookBlock(db: Db, id: string, target: string, at = 1_790_000_000): void {
  insertPlaybookAction(db, {
    id,
    at,
    zone: 'control',
    playbook: 'contain-scans',
    policySha: 'x'.repeat(12),
    mode: 'act',
    kind: 'block_source',
    target,
    ttlS: 600,
    expiresAt: at + 600,
    detectionId: `det-${id}`,
    detectionType: 'port_scan',
    detectionTs: at,
    status: 'done',
    reason: 'scan',
    details: {},
    undoneBy: null,
    undoneAt: null,
  });
}
