/**
 * IEC 62443-3-3 system requirements Weir can evidence, with their NERC CIP counterparts: a status per
 * requirement (met / partly / not met / no evidence) and the evidence itself, from what the store holds —
 * the active policy and its approval, simulations, the audit log and its check, the baseline and
 * detections, the inventory, exposure paths and vulnerabilities. Pure: evidence in, statements out. Weir
 * states what it can see; a requirement it cannot see at all is "no evidence", never "met".
 */
export type Status = 'met' | 'partly' | 'not met' | 'no evidence';

export interface Requirement {
  id: string;
  title: string;
  nerc: string;
  status: Status;
  /** Why this status, in one sentence. */
  finding: string;
  evidence: string[];
}

export interface Evidence {
  policy: {
    source: string;
    sha: string;
    zones: Array<{ name: string; mode: string; securityLevel: number | null; lowTrust: boolean }>;
    conduits: number;
    groups: number;
    approvedBy: string[];
  } | null;
  simulations: Array<{ id: string; createdAt: string; baselineBlocked: number }>;
  audit: {
    status: string;
    entries: number;
    keyed: number;
    headSeq: number | null;
    headHash: string | null;
    actions: Record<string, number>;
  };
  users: Array<{ name: string; roles: string[] }>;
  baselineVersion: number | null;
  detections: { total: number; open: number; last: string | null };
  inventory: {
    assets: number;
    outsideZones: string[];
    controllers: number;
    controllersIdentified: number;
  };
  lowTrustWritePaths: string[];
  vulnerabilities: { advisories: number; vulnerableAssets: number; withFix: number } | null;
}

const n = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;

export function evaluateCompliance(e: Evidence): Requirement[] {
  const p = e.policy;
  const out: Requirement[] = [];
  const r = (
    id: string,
    title: string,
    nerc: string,
    status: Status,
    finding: string,
    evidence: string[],
  ) => out.push({ id, title, nerc, status, finding, evidence });
  const policyLine = p
    ? `active policy ${p.source} (sha256 ${p.sha.slice(0, 12)}…), approved by ${p.approvedBy.join(', ') || 'nobody recorded'}`
    : '';

  // SR 5.1 network segmentation
  if (!p)
    r(
      'SR 5.1',
      'Network segmentation',
      'CIP-005-7 R1 (electronic security perimeter)',
      'no evidence',
      'No active policy: no zones are documented.',
      [],
    );
  else {
    const status: Status =
      p.zones.length < 2 ? 'not met' : e.inventory.outsideZones.length > 0 ? 'partly' : 'met';
    r(
      'SR 5.1',
      'Network segmentation',
      'CIP-005-7 R1 (electronic security perimeter)',
      status,
      p.zones.length < 2
        ? 'The policy documents fewer than two zones.'
        : e.inventory.outsideZones.length > 0
          ? `${e.inventory.outsideZones.length} of ${e.inventory.assets} observed assets ${e.inventory.outsideZones.length === 1 ? 'is' : 'are'} in no zone.`
          : `Every one of the ${e.inventory.assets} observed assets is in a documented zone.`,
      [
        policyLine,
        `zones: ${p.zones.map((z) => `${z.name}${z.securityLevel ? ` (SL ${z.securityLevel})` : ''}`).join(', ')}; ${p.conduits} conduits`,
        ...(e.inventory.outsideZones.length
          ? [
              `outside every zone: ${e.inventory.outsideZones.slice(0, 10).join(', ')}${e.inventory.outsideZones.length > 10 ? ', …' : ''}`,
            ]
          : []),
      ],
    );
  }

  // SR 5.2 zone boundary protection
  if (!p)
    r(
      'SR 5.2',
      'Zone boundary protection',
      'CIP-005-7 R1.3 (inbound and outbound access permissions)',
      'no evidence',
      'No active policy.',
      [],
    );
  else {
    const enforced = p.zones.filter((z) => z.mode === 'enforce');
    const watched = p.zones.filter((z) => z.mode === 'simulate' || z.mode === 'monitor');
    const status: Status =
      enforced.length === p.zones.length
        ? 'met'
        : enforced.length + watched.length > 0
          ? 'partly'
          : 'not met';
    const clean = e.simulations.filter((s) => s.baselineBlocked === 0);
    r(
      'SR 5.2',
      'Zone boundary protection',
      'CIP-005-7 R1.3 (inbound and outbound access permissions)',
      status,
      `${enforced.length} of ${p.zones.length} zones enforce their conduits; ${n(watched.length, 'zone is', 'zones are')} monitored or simulated only.`,
      [
        policyLine,
        `zone modes: ${p.zones.map((z) => `${z.name} ${z.mode}`).join(', ')}; ${p.groups} context groups`,
        `${e.simulations.length} simulations recorded, ${clean.length} blocking no baseline flow${e.simulations[0] ? ` (latest ${e.simulations[0].id} at ${e.simulations[0].createdAt})` : ''}`,
      ],
    );
  }

  // SR 1.13 access via untrusted networks
  const low = p?.zones.filter((z) => z.lowTrust) ?? [];
  if (!p || low.length === 0)
    r(
      'SR 1.13',
      'Access via untrusted networks',
      'CIP-005-7 R2 (interactive remote access)',
      'no evidence',
      p
        ? 'The policy names no IT, DMZ or remote-access zone, so access from untrusted networks cannot be told apart.'
        : 'No active policy.',
      [],
    );
  else
    r(
      'SR 1.13',
      'Access via untrusted networks',
      'CIP-005-7 R2 (interactive remote access)',
      e.lowTrustWritePaths.length === 0 ? 'met' : 'not met',
      e.lowTrustWritePaths.length === 0
        ? `No observed path from ${low.map((z) => z.name).join(', ')} writes to, controls or programs a PLC or RTU.`
        : `${n(e.lowTrustWritePaths.length, 'observed path', 'observed paths')} from lower-trust zones ${e.lowTrustWritePaths.length === 1 ? 'writes' : 'write'} to, controls or programs a PLC or RTU.`,
      [
        `lower-trust zones: ${low.map((z) => z.name).join(', ')}`,
        ...e.lowTrustWritePaths.slice(0, 10),
      ],
    );

  // SR 2.8 auditable events, SR 2.9 audit storage, SR 3.9 protection of audit information
  const a = e.audit;
  const actions = Object.entries(a.actions)
    .sort((x, y) => y[1] - x[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
  const head = a.headHash
    ? `log end: entry ${a.headSeq}, sha256 ${a.headHash}`
    : 'the log is empty';
  r(
    'SR 2.8',
    'Auditable events',
    'CIP-007-6 R4.1 (log events)',
    a.entries > 0 ? 'met' : 'no evidence',
    a.entries > 0
      ? `${a.entries} audit entries record who changed what (logins, policy changes, approvals, enforcement, imports).`
      : 'No audited event yet.',
    [head, ...(actions ? [`events: ${actions}`] : [])],
  );
  r(
    'SR 2.9',
    'Audit storage capacity',
    'CIP-007-6 R4.3 (retain logs 90 days)',
    a.entries > 0 ? 'partly' : 'no evidence',
    'Entries are kept in the store without expiry; Weir does not yet warn before the disk fills or prove 90-day retention off the host.',
    [head],
  );
  r(
    'SR 3.9',
    'Protection of audit information',
    'CIP-007-6 R4 (security event monitoring)',
    a.status === 'intact' && a.entries > 0
      ? a.keyed === a.entries
        ? 'met'
        : 'partly'
      : a.status === 'tampered'
        ? 'not met'
        : 'no evidence',
    a.status === 'tampered'
      ? 'The audit check found tampering.'
      : `Audit log ${a.status}: ${a.keyed} of ${a.entries} entries carry a keyed MAC; the chain is append-only in the store.`,
    [head],
  );

  // SR 2.1 authorization enforcement (of Weir's own changes)
  const roles = [...new Set(e.users.flatMap((u) => u.roles))];
  r(
    'SR 2.1',
    'Authorization enforcement',
    'CIP-004-7 R4 (access management)',
    e.users.length > 0 ? 'met' : 'no evidence',
    e.users.length > 0
      ? `Every change through Weir needs a logged-in person in a role; ${e.users.length} users in roles ${roles.join(', ')}.`
      : 'No users are defined.',
    e.users.map((u) => `${u.name}: ${u.roles.join(', ')}`),
  );

  // SR 6.2 continuous monitoring
  const d = e.detections;
  r(
    'SR 6.2',
    'Continuous monitoring',
    'CIP-007-6 R4.2 (alerting)',
    e.baselineVersion !== null && d.total > 0
      ? 'met'
      : e.baselineVersion !== null
        ? 'partly'
        : 'no evidence',
    e.baselineVersion === null
      ? 'No baseline learned: traffic is not checked against normal.'
      : d.total > 0
        ? `Traffic is checked against baseline v${e.baselineVersion}; ${d.total} detections, ${d.open} open.`
        : `Baseline v${e.baselineVersion} exists but no detection run is recorded.`,
    [
      `baseline version: ${e.baselineVersion ?? 'none'}`,
      `detections: ${d.total} (${d.open} open)${d.last ? `, last at ${d.last}` : ''}`,
    ],
  );

  // SR 7.8 component inventory
  const inv = e.inventory;
  const share = inv.controllers ? inv.controllersIdentified / inv.controllers : 0;
  r(
    'SR 7.8',
    'Control system component inventory',
    'CIP-010-4 R1.1 (baseline configuration)',
    inv.assets === 0 ? 'no evidence' : share >= 0.8 ? 'met' : 'partly',
    inv.assets === 0
      ? 'No inventory.'
      : `${inv.assets} assets from passive discovery; ${inv.controllersIdentified} of ${inv.controllers} PLCs/RTUs disclosed vendor, model or firmware.`,
    [
      `assets: ${inv.assets}`,
      `controllers identified: ${inv.controllersIdentified}/${inv.controllers}`,
    ],
  );

  // CIP-007 R2 patch management (62443-3-3 has no SR for it; 62443-2-3 does): evidence from the advisories.
  const v = e.vulnerabilities;
  r(
    'SR 3.4 / 2-3',
    'Software and information integrity; patch management',
    'CIP-007-6 R2 (security patch management)',
    !v ? 'no evidence' : v.vulnerableAssets === 0 ? 'met' : 'partly',
    !v
      ? 'No advisories imported: vulnerabilities cannot be assessed.'
      : `${v.advisories} advisories imported; ${n(v.vulnerableAssets, 'asset matches', 'assets match')} advisories (exact or family), ${v.withFix} with a vendor fix to plan.`,
    v
      ? [
          `advisories: ${v.advisories}`,
          `vulnerable assets: ${v.vulnerableAssets}`,
          `with a vendor fix: ${v.withFix}`,
        ]
      : [],
  );
  return out;
}
