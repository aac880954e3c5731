import { createHash } from 'node:crypto';
import { isMap, isSeq, parseDocument } from 'yaml';
import type { Db } from '../store/db.js';
import { anchorAudit, appendAudit } from '../store/audit-store.js';
import { guardBlock, type CutFlow } from './block-impact.js';
import { neverBlockRefusal, type NeverBlock } from './playbook-guard.js';
import { audited } from './audited.js';
import { describeLapsed, lapsedApprovals, standingRoles } from './approval-standing.js';
import { CAN } from './roles.js';
import {
  activePolicySha,
  addApproval,
  approvalsOf,
  getProposal,
  insertProposal,
  policyText,
  savePolicyText,
  saveSimulation,
  setActivePolicy,
  setProposalStatus,
  rolesSince,
  userRoles,
  type ProposalRow,
} from '../store/change-store.js';
import { parsePolicy } from '../policy/load.js';
import { PolicyInvalid } from '../policy/errors.js';
import { ZONE_MODES, type Policy, type ZoneMode } from '../policy/model.js';
import type { SimulationResult } from '../policy/simulate.js';
import { placementProblems } from '../policy/decoy-placement.js';
import { latestBaseline } from '../store/baseline-store.js';
import type { Baseline } from '../discover/baseline.js';
import { changeRules, ladderJumps, onlyStepsDown } from './change-rules.js';
import { baselineDigest, ipv6Cuts, judgeEvidence } from './evidence.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { passwordResetBy, passwordSetBy } from '../store/session-store.js';
import { changeRule } from '../store/change-rules-store.js';

/** A change-control rule said no; the message says which and what would satisfy it. */
export class ChangeRefused extends Error {}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Hash of the text, and of what the policy allows (zone modes and playbooks left out: a promotion or a playbook
 * changes no rule of the ruleset, so the simulation of the rules still holds).
 */
export function policyHashes(p: Policy, text: string): { sha: string; rulesSha: string } {
  return {
    sha: sha256(text),
    rulesSha: sha256(
      JSON.stringify({
        ...p,
        zones: p.zones.map((z) => ({ ...z, mode: undefined, playbooks: undefined })),
      }),
    ),
  };
}

function load(text: string, source: string): Policy {
  const r = parsePolicy(text, source);
  if (!r.ok) throw new PolicyInvalid(r.errors);
  return r.policy;
}

export function activePolicy(
  db: Db,
): { sha: string; text: string; source: string; policy: Policy } | null {
  const sha = activePolicySha(db);
  if (sha === null) return null;
  const t = policyText(db, sha)!;
  return { sha, text: t.text, source: t.source, policy: load(t.text, t.source) };
}

/** Keep a simulation's outcome, so a promotion can point at the evidence. Returns its id. */
export function recordSimulation(
  db: Db,
  s: {
    text: string;
    source: string;
    policy: Policy;
    result: SimulationResult;
    captures: string[];
    /** The baseline the replay was judged against (its version and content are recorded). */
    baseline: Baseline | null;
    actor: string;
  },
): string {
  const { sha, rulesSha } = policyHashes(s.policy, s.text);
  const r = s.result;
  const baselineVersion = s.baseline?.version ?? null;
  const baselineSha256 = s.baseline === null ? null : baselineDigest(s.baseline);
  const id = `sim-${sha256(`${sha}|${s.captures.join('|')}|${Date.now()}|${Math.random()}`).slice(0, 12)}`;
  savePolicyText(db, { sha, rulesSha, source: s.source, text: s.text });
  saveSimulation(
    db,
    {
      id,
      policySha: sha,
      rulesSha,
      baselineVersion,
      baselineSha256,
      createdAt: new Date().toISOString(),
      captures: s.captures,
      firstTs: r.firstTs,
      lastTs: r.lastTs,
      packets: r.packets,
      blockedFlows: Object.values(r.zones).reduce((n, z) => n + z.blockedFlows, 0),
      baselineBlocked: Object.values(r.zones).reduce((n, z) => n + z.baselineBlocked, 0),
      zones: r.zones,
    },
    r,
  );
  appendAudit(db, {
    actor: s.actor,
    action: 'simulation.recorded',
    subject: sha.slice(0, 12),
    simulationId: id,
    details: {
      captures: s.captures,
      packets: r.packets,
      span_s: r.lastTs - r.firstTs,
      baseline_version: baselineVersion,
      baseline_sha256: baselineSha256,
      zones: r.zones,
    },
  });
  return id;
}

/**
 * Propose a new policy text. The roles to approve are those of every zone the change touches, as the policy in
 * force and the proposed one name them; no zone climbs more than one rung of the ladder from where it stands.
 */
export function submitPolicy(
  db: Db,
  s: { text: string; source: string; actor: string; note?: string },
): number {
  const policy = load(s.text, s.source);
  const { sha, rulesSha } = policyHashes(policy, s.text);
  const active = activePolicy(db);
  if (active?.sha === sha) throw new ChangeRefused('this policy is already the active one');
  // A decoy on an address normal traffic uses would turn that traffic into contacts: refused before review.
  const learned = policy.decoys?.length ? latestBaseline(db) : null;
  const misplaced = learned ? placementProblems(policy.decoys!, learned) : [];
  if (misplaced.length) throw new ChangeRefused(misplaced.map((p) => p.message).join('\n'));
  const jumps = ladderJumps(active?.policy ?? null, policy);
  if (jumps.length) throw new ChangeRefused(jumps.join('\n'));
  const { touched, roles } = changeRules(active?.policy ?? null, policy);
  savePolicyText(db, { sha, rulesSha, source: s.source, text: s.text });
  const id = insertProposal(db, {
    kind: 'policy_change',
    zone: null,
    policySha: sha,
    baseSha: active?.sha ?? null,
    requiredRoles: roles,
    createdBy: s.actor,
    note: s.note ?? '',
    doc: { touched_zones: touched },
  });
  appendAudit(db, {
    actor: s.actor,
    action: 'proposal.created',
    subject: `proposal ${id}`,
    details: {
      kind: 'policy_change',
      policy: sha.slice(0, 12),
      source: s.source,
      touched_zones: touched,
      required_roles: roles,
      note: s.note ?? '',
    },
  });
  return id;
}

/** Propose moving a zone on the ladder: up one rung at a time, down any number (down is always the safe way). */
export function promoteZone(
  db: Db,
  s: { zone: string; to: ZoneMode; actor: string; note?: string },
): number {
  const active = activePolicy(db);
  if (active === null) throw new ChangeRefused('no active policy: submit and apply a policy first');
  const zone = active.policy.zones.find((z) => z.name === s.zone);
  if (zone === undefined) throw new ChangeRefused(`no zone named '${s.zone}' in the active policy`);
  const from = ZONE_MODES.indexOf(zone.mode),
    to = ZONE_MODES.indexOf(s.to);
  if (to === from) throw new ChangeRefused(`zone ${s.zone} is already in ${s.to}`);
  if (to > from + 1)
    throw new ChangeRefused(
      `zone ${s.zone} is in ${zone.mode}; the ladder goes ${ZONE_MODES.join(' → ')} one rung at a time (next: ${ZONE_MODES[from + 1]})`,
    );
  const text = withZoneMode(active.text, s.zone, s.to);
  const policy = load(text, active.source);
  const { sha, rulesSha } = policyHashes(policy, text);
  savePolicyText(db, { sha, rulesSha, source: active.source, text });
  const id = insertProposal(db, {
    kind: 'zone_promotion',
    zone: s.zone,
    policySha: sha,
    baseSha: active.sha,
    requiredRoles: zone.approvals,
    createdBy: s.actor,
    note: s.note ?? '',
    doc: { from: zone.mode, to: s.to },
  });
  appendAudit(db, {
    actor: s.actor,
    action: 'proposal.created',
    subject: `proposal ${id}`,
    details: {
      kind: 'zone_promotion',
      zone: s.zone,
      from: zone.mode,
      to: s.to,
      required_roles: zone.approvals,
      note: s.note ?? '',
    },
  });
  return id;
}

/** One person approves in one role they hold; the author cannot approve their own proposal. */
export function approveProposal(
  db: Db,
  s: { id: number; actor: string; role: string; note?: string },
): ProposalRow {
  const p = openProposal(db, s.id);
  const roles = userRoles(db, s.actor);
  if (roles === null)
    throw new ChangeRefused(`unknown user '${s.actor}': add them with \`weir user add\``);
  if (!roles.includes(s.role))
    throw new ChangeRefused(
      `${s.actor} does not hold the ${s.role} role (holds: ${roles.join(', ') || 'none'})`,
    );
  if (p.createdBy === s.actor)
    throw new ChangeRefused('the author of a proposal cannot approve it');
  if (!p.requiredRoles.includes(s.role))
    throw new ChangeRefused(`proposal ${s.id} needs ${p.requiredRoles.join(', ')}, not ${s.role}`);
  // The review's L5: an admin who makes (or re-roles) accounts after seeing a proposal could satisfy every rule.
  const since = rolesSince(db, s.actor)![s.role]!;
  if (since > p.createdAt)
    refuseApproval(
      db,
      s,
      `${s.actor} was given the ${s.role} role after proposal ${s.id} was made (${since.slice(0, 19)}Z, proposal ${p.createdAt.slice(0, 19)}Z): an approval counts only from an account that held its role then; another ${s.role} approves, or the change is proposed again`,
      { role_since: since, proposal_created: p.createdAt },
    );
  // Review 14b F1: the author resets the approver's password after proposing, logs in as them and "sets their
  // own": the last setter is then the approver. Nothing tells that from the holder's own change, and the reset can
  // come through a second admin account the author makes, so any reset by someone else after the proposal was
  // made leaves that account's approval of it void for good.
  const reset = passwordResetBy(db, s.actor);
  if (reset !== null && reset.at > p.createdAt)
    refuseApproval(
      db,
      s,
      `${s.actor}'s password was reset by ${reset.by}${reset.by === p.createdBy ? `, the author of proposal ${s.id},` : ''} after proposal ${s.id} was made (${reset.at.slice(0, 19)}Z): ${s.actor}'s approval of it does not count, whoever set the password since; another ${s.role} approves, or the change is proposed again`,
      { password_reset_by: reset.by, password_reset_at: reset.at, proposal_created: p.createdAt },
    );
  // Review 14 C2: a password the author set before the proposal is the author's to know until its holder sets
  // their own (one anybody else set after the proposal is refused above, for good).
  const pw = passwordSetBy(db, s.actor);
  if (pw !== null && pw.by !== s.actor && pw.by === p.createdBy)
    refuseApproval(
      db,
      s,
      `${s.actor}'s password was last set by ${pw.by} (${pw.at.slice(0, 19)}Z), the author of the proposal: the approval counts once ${s.actor} sets their own password (\`weir user passwd\`, or PUT /api/me/password)`,
      { password_set_by: pw.by, password_set_at: pw.at, proposal_created: p.createdAt },
    );
  const given = approvalsOf(db, s.id);
  if (given.some((a) => a.role === s.role))
    throw new ChangeRefused(`the ${s.role} approval of proposal ${s.id} is already given`);
  if (given.some((a) => a.user === s.actor))
    throw new ChangeRefused(`${s.actor} already approved proposal ${s.id} in another role`);
  db.transaction(() => {
    addApproval(db, { proposalId: s.id, user: s.actor, role: s.role, note: s.note ?? '' });
    const have = new Set([...standingRoles(db, p), s.role]);
    const complete = p.requiredRoles.every((r) => have.has(r));
    if (complete) setProposalStatus(db, s.id, 'approved');
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.approved',
      subject: `proposal ${s.id}`,
      details: { role: s.role, note: s.note ?? '', complete },
    });
  })();
  anchorAudit(db);
  return getProposal(db, s.id)!;
}

function refuseApproval(
  db: Db,
  s: { id: number; actor: string; role: string },
  reason: string,
  facts: Record<string, string>,
): never {
  audited(db, () =>
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.approval_refused',
      subject: `proposal ${s.id}`,
      details: { role: s.role, ...facts, reason },
    }),
  );
  throw new ChangeRefused(reason);
}

export function rejectProposal(db: Db, s: { id: number; actor: string; note?: string }): void {
  const p = closableProposal(db, s.id, s.actor, 'reject');
  if (userRoles(db, s.actor) === null) throw new ChangeRefused(`unknown user '${s.actor}'`);
  audited(db, () => {
    setProposalStatus(db, s.id, 'rejected');
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.rejected',
      subject: `proposal ${s.id}`,
      details: { note: s.note ?? '', ...closedFrom(db, p) },
    });
  });
}

/**
 * Make an approved proposal the active policy. The rules come from the policy in force, checked again here (a
 * proposal stored under older rules gains nothing): its approvers, the ladder, and for every zone that would
 * enforce, simulations of these rules against the store's current baseline, one over at least the zone's window
 * (the longer of in force and proposed), none blocking a baseline flow.
 */
export function applyProposal(
  db: Db,
  s: {
    id: number;
    actor: string;
    confirmCutsBaseline?: boolean;
    /** What the enforcement host never blocks now (its addresses, subnets, routers, gateway): refused first. */
    neverBlock?: NeverBlock;
    carryOutBlock?: (b: { ip: string; ttl: number }) => void;
  },
): AppliedProposal {
  const p = approvedProposal(db, s.id);
  refuseLapsed(db, p, s);
  if (p.kind === 'source_block') {
    // A block changes no rule of the policy: the caller carries it out on the enforcement host.
    return applyBlock(db, p, s);
  }
  const active = activePolicySha(db);
  if (active !== p.baseSha)
    throw new ChangeRefused(
      `the active policy changed since proposal ${s.id} was made; propose again against the current one`,
    );
  const t = policyText(db, p.policySha)!;
  const policy = load(t.text, t.source);
  const inForce = active === null ? null : activePolicy(db)!.policy;
  const problems = inForceProblems(db, p, inForce, policy);
  if (problems.length > 0) refuseApply(db, s, null, problems);
  // Zones stepping down, nothing else changed: what still enforces, enforces as it did.
  const stepsDown = onlyStepsDown(inForce, policy);
  const enforcing = stepsDown ? [] : policy.zones.filter((z) => z.mode === 'enforce');
  let simId: string | null = null;
  // The bar is the store's (set by an admin, audited), never the caller's settings file (review 14 C1).
  const coveragePct = changeRule(db, 'simulation_coverage_pct');
  if (enforcing.length > 0) {
    const windowOf = (name: string, proposed: number): number =>
      Math.max(proposed, inForce?.zones.find((z) => z.name === name)?.simulationWindow ?? 0);
    const judged = judgeEvidence(
      db,
      t.rulesSha,
      enforcing.map((z) => ({ name: z.name, window: windowOf(z.name, z.simulationWindow) })),
      coveragePct,
    );
    simId = judged.simulationId;
    const v6 = ipv6Cuts(latestBaseline(db), new CompiledPolicy(policy));
    if (v6 !== null) judged.problems.push(v6);
    if (judged.problems.length > 0) refuseApply(db, s, simId, judged.problems);
  }
  db.transaction(() => {
    setActivePolicy(db, p.policySha, p.id);
    setProposalStatus(db, p.id, 'applied');
    appendAudit(db, {
      actor: s.actor,
      action: 'policy.applied',
      subject: `proposal ${s.id}`,
      simulationId: simId,
      details: {
        policy: p.policySha.slice(0, 12),
        kind: p.kind,
        zone: p.zone,
        approvals: approversOf(db, p.id),
        ...(stepsDown ? { simulation: 'not needed: zones only step down the ladder' } : {}),
        ...(enforcing.length > 0 ? { simulation_coverage_pct: coveragePct } : {}),
      },
    });
  })();
  anchorAudit(db);
  return { simulationId: simId };
}

/** The approvers and the ladder as the policy in force rules them, against what the proposal carries. */
function inForceProblems(
  db: Db,
  p: ProposalRow,
  inForce: Policy | null,
  proposed: Policy,
): string[] {
  const { roles } = changeRules(inForce, proposed);
  const given = new Set(approvalsOf(db, p.id).map((a) => a.role));
  const missing = roles.filter((r) => !given.has(r));
  return [
    ...(missing.length
      ? [
          `the policy in force makes this change need the approval of ${roles.join(', ')}; missing: ${missing.join(', ')} (propose it again)`,
        ]
      : []),
    ...ladderJumps(inForce, proposed),
  ];
}

function refuseApply(
  db: Db,
  s: { id: number; actor: string },
  simId: string | null,
  problems: string[],
): never {
  appendAudit(db, {
    actor: s.actor,
    action: 'proposal.apply_refused',
    subject: `proposal ${s.id}`,
    simulationId: simId,
    details: { problems },
  });
  throw new ChangeRefused(`proposal ${s.id} cannot be applied:\n  ${problems.join('\n  ')}`);
}

type AppliedProposal = {
  simulationId: string | null;
  block?: { ip: string; ttl: number };
  cutsBaseline?: CutFlow[];
};

function approvedProposal(db: Db, id: number): ProposalRow {
  const p = getProposal(db, id);
  if (p === null) throw new ChangeRefused(`no proposal ${id}`);
  if (p.status !== 'approved') {
    const missing = p.requiredRoles.filter((r) => !approvalsOf(db, id).some((a) => a.role === r));
    throw new ChangeRefused(
      `proposal ${id} is ${p.status}${p.status === 'open' ? `; waiting for: ${missing.join(', ')}` : ''}`,
    );
  }
  return p;
}

/**
 * applyProposal, for a caller whose enforcement backend carries a block out asynchronously (every
 * EnforcementBackend does): the same checks and audit, with the block awaited before the proposal counts as applied.
 */
export async function applyProposalVia(
  db: Db,
  s: {
    id: number;
    actor: string;
    confirmCutsBaseline?: boolean;
    /** What the enforcement host never blocks now (its addresses, subnets, routers, gateway): refused first. */
    neverBlock?: NeverBlock;
    carryOutBlock: (b: { ip: string; ttl: number }) => Promise<unknown>;
  },
): Promise<AppliedProposal> {
  const p = approvedProposal(db, s.id);
  refuseLapsed(db, p, s);
  if (p.kind !== 'source_block')
    return applyProposal(db, {
      id: s.id,
      actor: s.actor,
      confirmCutsBaseline: s.confirmCutsBaseline,
    });
  const { block, cuts } = checkBlock(db, p, s);
  try {
    await s.carryOutBlock(block);
  } catch (err) {
    blockFailed(db, p, s.actor, block, err as Error);
    throw err;
  }
  return blockApplied(db, p, s.actor, block, cuts);
}

const approversOf = (db: Db, id: number): string[] =>
  approvalsOf(db, id).map((a) => `${a.user} (${a.role})`);

/**
 * A block changes no rule of the policy: it is carried out on the enforcement host. Even approved, it does not
 * cut a learned-normal flow unless the person applying it says so, having seen which flows those are.
 */
function applyBlock(
  db: Db,
  p: ProposalRow,
  s: {
    actor: string;
    confirmCutsBaseline?: boolean;
    /** What the enforcement host never blocks now (its addresses, subnets, routers, gateway): refused first. */
    neverBlock?: NeverBlock;
    carryOutBlock?: (b: { ip: string; ttl: number }) => void;
  },
): { simulationId: null; block: { ip: string; ttl: number }; cutsBaseline?: CutFlow[] } {
  const { block, cuts } = checkBlock(db, p, s);
  try {
    s.carryOutBlock?.(block);
  } catch (err) {
    blockFailed(db, p, s.actor, block, err as Error);
    throw err;
  }
  return blockApplied(db, p, s.actor, block, cuts);
}

/** The block a proposal asks for, refused (and audited) when it cuts baseline flows not confirmed. */
function checkBlock(
  db: Db,
  p: ProposalRow,
  s: { actor: string; confirmCutsBaseline?: boolean; neverBlock?: NeverBlock },
): { block: { ip: string; ttl: number }; cuts: CutFlow[] } {
  const block = { ip: String(p.doc.ip), ttl: Number(p.doc.ttl_s) };
  // Approved or not, a block never hits the host, its gateway, routers or a subnet's own addresses.
  const never = neverBlockRefusal(block.ip, s.neverBlock ?? { addresses: [], subnets: [] });
  if (never !== null) {
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.apply_refused',
      subject: `proposal ${p.id}`,
      details: { problems: [never], ...block },
    });
    throw new ChangeRefused(`proposal ${p.id}: ${never}`);
  }
  const { cuts, refusal } = guardBlock(db, block.ip, s.confirmCutsBaseline === true);
  if (refusal !== null) {
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.apply_refused',
      subject: `proposal ${p.id}`,
      details: { problems: ['the block cuts baseline flows'], ...block, cuts_baseline: cuts },
    });
    throw new ChangeRefused(`proposal ${p.id}: ${refusal}`);
  }
  return { block, cuts };
}

function blockFailed(
  db: Db,
  p: ProposalRow,
  actor: string,
  block: { ip: string; ttl: number },
  err: Error,
): void {
  appendAudit(db, {
    actor,
    action: 'source.block_failed',
    subject: `proposal ${p.id}`,
    details: { ...block, error: err.message },
  });
}

function blockApplied(
  db: Db,
  p: ProposalRow,
  actor: string,
  block: { ip: string; ttl: number },
  cuts: CutFlow[],
): { simulationId: null; block: { ip: string; ttl: number }; cutsBaseline?: CutFlow[] } {
  setProposalStatus(db, p.id, 'applied');
  appendAudit(db, {
    actor,
    action: 'source.block_applied',
    subject: `proposal ${p.id}`,
    details: {
      ...block,
      approvals: approversOf(db, p.id),
      ...(cuts.length ? { cuts_baseline: cuts } : {}),
    },
  });
  return { simulationId: null, block, ...(cuts.length ? { cutsBaseline: cuts } : {}) };
}

function openProposal(db: Db, id: number): ProposalRow {
  const p = getProposal(db, id);
  if (p === null) throw new ChangeRefused(`no proposal ${id}`);
  if (p.status !== 'open') throw new ChangeRefused(`proposal ${id} is ${p.status}`);
  return p;
}

/** The policy text with one zone's mode changed, comments and layout kept. */
function withZoneMode(text: string, zone: string, mode: ZoneMode): string {
  const doc = parseDocument(text);
  const zones = doc.get('zones');
  if (!isSeq(zones)) throw new ChangeRefused('active policy has no zones list');
  for (const z of zones.items) if (isMap(z) && z.get('name') === zone) z.set('mode', mode);
  return doc.toString();
}

/** Review 14 C3: an approval counts at apply only while its giver exists and still holds the role (audited). */
function refuseLapsed(db: Db, p: ProposalRow, s: { id: number; actor: string }): void {
  const why = describeLapsed(p.id, lapsedApprovals(db, p));
  if (why !== null) refuseApply(db, s, null, [why]);
}

/**
 * A proposal that can be closed without being applied: an open one, or an approved one not yet applied (its
 * approvals may no longer count, or the plant may have changed its mind). Closing an approved one undoes other
 * people's approvals, so it takes an approving role or an admin, or its author withdrawing it.
 */
function closableProposal(
  db: Db,
  id: number,
  actor: string,
  how: 'reject' | 'withdraw',
): ProposalRow {
  const p = getProposal(db, id);
  if (p === null) throw new ChangeRefused(`no proposal ${id}`);
  if (p.status !== 'open' && p.status !== 'approved')
    throw new ChangeRefused(`proposal ${id} is ${p.status}`);
  const roles = userRoles(db, actor);
  if (roles === null) throw new ChangeRefused(`unknown user '${actor}'`);
  if (how === 'withdraw' && p.createdBy !== actor)
    throw new ChangeRefused(
      `only its author (${p.createdBy}) withdraws proposal ${id}; others reject it`,
    );
  if (
    how === 'reject' &&
    p.status === 'approved' &&
    !roles.some((r) => (CAN.propose as readonly string[]).includes(r))
  )
    throw new ChangeRefused(
      `proposal ${id} is approved: rejecting it takes an approving role (${CAN.propose.join(', ')}); ${actor} holds ${roles.join(', ') || 'none'}`,
    );
  return p;
}

/** For the audit: an approved proposal closed unapplied, and which of its approvals no longer counted. */
function closedFrom(db: Db, p: ProposalRow): Record<string, unknown> {
  if (p.status !== 'approved') return {};
  const lapsed = lapsedApprovals(db, p);
  return { was: 'approved', ...(lapsed.length ? { lapsed_approvals: lapsed } : {}) };
}

/** The author takes back a proposal not yet applied, open or approved (audited, with the note). */
export function withdrawProposal(db: Db, s: { id: number; actor: string; note?: string }): void {
  const p = closableProposal(db, s.id, s.actor, 'withdraw');
  audited(db, () => {
    setProposalStatus(db, s.id, 'withdrawn');
    appendAudit(db, {
      actor: s.actor,
      action: 'proposal.withdrawn',
      subject: `proposal ${s.id}`,
      details: { note: s.note ?? '', ...closedFrom(db, p) },
    });
  });
}
