import type { Db } from './db.js';
import type { ZoneCounts } from '../policy/simulate.js';

export type ProposalStatus = 'open' | 'approved' | 'applied' | 'rejected' | 'withdrawn';

export interface ProposalRow {
  id: number;
  kind: 'policy_change' | 'zone_promotion' | 'source_block';
  zone: string | null;
  policySha: string;
  baseSha: string | null;
  requiredRoles: string[];
  status: ProposalStatus;
  createdBy: string;
  createdAt: string;
  note: string;
  doc: Record<string, unknown>;
}

export interface SimulationRow {
  id: string;
  policySha: string;
  rulesSha: string;
  baselineVersion: number | null;
  /** Digest of the baseline's content (null: none, or recorded before digests were kept). */
  baselineSha256: string | null;
  createdAt: string;
  captures: string[];
  firstTs: number;
  lastTs: number;
  packets: number;
  blockedFlows: number;
  baselineBlocked: number;
  zones: Record<string, Omit<ZoneCounts, 'mode'> & { mode: string }>;
}

/** When each role was given: kept for roles a change keeps, now for the roles it adds. */
function grantTimes(db: Db, name: string, roles: string[], now: string): string {
  const was = rolesSince(db, name) ?? {};
  return JSON.stringify(Object.fromEntries(roles.map((r) => [r, was[r] ?? now])));
}

export function addUser(db: Db, name: string, roles: string[]): void {
  const now = new Date().toISOString();
  db.prepare(
    'INSERT INTO users (name, roles, created_at, roles_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET roles = excluded.roles, roles_at = excluded.roles_at',
  ).run(name, JSON.stringify(roles), now, grantTimes(db, name, roles, now));
}

/** Add a new person; an existing name is an error (changing roles is its own, audited step). */
export function insertUser(db: Db, name: string, roles: string[]): void {
  const now = new Date().toISOString();
  db.prepare('INSERT INTO users (name, roles, created_at, roles_at) VALUES (?, ?, ?, ?)').run(
    name,
    JSON.stringify(roles),
    now,
    JSON.stringify(Object.fromEntries(roles.map((r) => [r, now]))),
  );
}

export function setUserRoles(db: Db, name: string, roles: string[]): void {
  db.prepare('UPDATE users SET roles = ?, roles_at = ? WHERE name = ?').run(
    JSON.stringify(roles),
    grantTimes(db, name, roles, new Date().toISOString()),
    name,
  );
}

export function userRoles(db: Db, name: string): string[] | null {
  const r = db.prepare('SELECT roles FROM users WHERE name = ?').get(name) as
    | { roles: string }
    | undefined;
  return r ? (JSON.parse(r.roles) as string[]) : null;
}

/**
 * Since when the person has held each role they hold (ISO time); an account from before these were kept
 * counts from its creation. Null: no such person.
 */
export function rolesSince(db: Db, name: string): Record<string, string> | null {
  const r = db
    .prepare('SELECT roles, created_at AS createdAt, roles_at AS rolesAt FROM users WHERE name = ?')
    .get(name) as { roles: string; createdAt: string; rolesAt: string | null } | undefined;
  if (r === undefined) return null;
  const at = r.rolesAt === null ? {} : (JSON.parse(r.rolesAt) as Record<string, string>);
  return Object.fromEntries(
    (JSON.parse(r.roles) as string[]).map((role) => [role, at[role] ?? r.createdAt]),
  );
}

export function savePolicyText(
  db: Db,
  p: { sha: string; rulesSha: string; source: string; text: string },
): void {
  db.prepare(
    'INSERT OR IGNORE INTO policies (sha256, rules_sha256, source, created_at, text) VALUES (?, ?, ?, ?, ?)',
  ).run(p.sha, p.rulesSha, p.source, new Date().toISOString(), p.text);
}

export function policyText(
  db: Db,
  sha: string,
): { text: string; source: string; rulesSha: string } | null {
  const r = db
    .prepare('SELECT text, source, rules_sha256 AS rulesSha FROM policies WHERE sha256 = ?')
    .get(sha) as { text: string; source: string; rulesSha: string } | undefined;
  return r ?? null;
}

export function activePolicySha(db: Db): string | null {
  const r = db.prepare('SELECT sha256 FROM active_policy WHERE id = 1').get() as
    | { sha256: string }
    | undefined;
  return r?.sha256 ?? null;
}

export function setActivePolicy(db: Db, sha: string, proposalId: number | null): void {
  db.prepare(
    'INSERT INTO active_policy (id, sha256, proposal_id, applied_at) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET sha256 = excluded.sha256, proposal_id = excluded.proposal_id, applied_at = excluded.applied_at',
  ).run(sha, proposalId, new Date().toISOString());
}

export function saveSimulation(db: Db, s: SimulationRow, doc: unknown): void {
  db.prepare(
    `INSERT INTO simulations (id, policy_sha256, rules_sha256, baseline_version, baseline_sha256, created_at, captures, first_ts, last_ts, packets, blocked_flows, baseline_blocked, zones, doc)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    s.id,
    s.policySha,
    s.rulesSha,
    s.baselineVersion,
    s.baselineSha256,
    s.createdAt,
    JSON.stringify(s.captures),
    s.firstTs,
    s.lastTs,
    s.packets,
    s.blockedFlows,
    s.baselineBlocked,
    JSON.stringify(s.zones),
    JSON.stringify(doc),
  );
}

const SIM_COLUMNS = `id, policy_sha256 AS policySha, rules_sha256 AS rulesSha, baseline_version AS baselineVersion, baseline_sha256 AS baselineSha256, created_at AS createdAt, captures,
  first_ts AS firstTs, last_ts AS lastTs, packets, blocked_flows AS blockedFlows, baseline_blocked AS baselineBlocked, zones`;

function simRow(r: Record<string, unknown> | undefined): SimulationRow | null {
  if (r === undefined) return null;
  return {
    ...(r as unknown as SimulationRow),
    captures: JSON.parse(r.captures as string) as string[],
    zones: JSON.parse(r.zones as string) as SimulationRow['zones'],
  };
}

/** Every simulation of a rule set, newest first (modes aside: promoting a zone does not change what it allows). */
export function simulationsOf(db: Db, rulesSha: string): SimulationRow[] {
  return (
    db
      .prepare(
        `SELECT ${SIM_COLUMNS} FROM simulations WHERE rules_sha256 = ? ORDER BY created_at DESC, rowid DESC`,
      )
      .all(rulesSha) as Array<Record<string, unknown>>
  ).map((r) => simRow(r)!);
}

export function insertProposal(
  db: Db,
  p: Omit<ProposalRow, 'id' | 'createdAt' | 'status'>,
): number {
  const r = db
    .prepare(
      `INSERT INTO proposals (kind, zone, policy_sha256, base_sha256, required_roles, status, created_by, created_at, note, doc)
    VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)`,
    )
    .run(
      p.kind,
      p.zone,
      p.policySha,
      p.baseSha,
      JSON.stringify(p.requiredRoles),
      p.createdBy,
      new Date().toISOString(),
      p.note,
      JSON.stringify(p.doc),
    );
  return Number(r.lastInsertRowid);
}

export function getProposal(db: Db, id: number): ProposalRow | null {
  const r = db
    .prepare(
      `SELECT id, kind, zone, policy_sha256 AS policySha, base_sha256 AS baseSha, required_roles AS requiredRoles, status,
    created_by AS createdBy, created_at AS createdAt, note, doc FROM proposals WHERE id = ?`,
    )
    .get(id) as Record<string, string> | undefined;
  if (!r) return null;
  return {
    ...(r as unknown as ProposalRow),
    requiredRoles: JSON.parse(r.requiredRoles!) as string[],
    doc: JSON.parse(r.doc!) as Record<string, unknown>,
  };
}

export function listProposals(db: Db): ProposalRow[] {
  const ids = db.prepare('SELECT id FROM proposals ORDER BY id').all() as Array<{ id: number }>;
  return ids.map((r) => getProposal(db, r.id)!);
}

export function setProposalStatus(db: Db, id: number, status: ProposalStatus): void {
  db.prepare('UPDATE proposals SET status = ? WHERE id = ?').run(status, id);
}

export function addApproval(
  db: Db,
  a: { proposalId: number; user: string; role: string; note: string },
): void {
  db.prepare(
    'INSERT INTO approvals (proposal_id, user, role, at, note) VALUES (?, ?, ?, ?, ?)',
  ).run(a.proposalId, a.user, a.role, new Date().toISOString(), a.note);
}

export function approvalsOf(
  db: Db,
  proposalId: number,
): Array<{ user: string; role: string; at: string; note: string }> {
  return db
    .prepare('SELECT user, role, at, note FROM approvals WHERE proposal_id = ? ORDER BY rowid')
    .all(proposalId) as Array<{ user: string; role: string; at: string; note: string }>;
}

/** Every proposal, oldest first, with the approvals it has so far. */
export function proposalsWithApprovals(
  db: Db,
): Array<ProposalRow & { approvals: ReturnType<typeof approvalsOf> }> {
  return listProposals(db).map((p) => ({ ...p, approvals: approvalsOf(db, p.id) }));
}
