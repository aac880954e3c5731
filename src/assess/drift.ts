import type { Policy } from '../policy/model.js';
import type { BlockedFlow, SimulationResult } from '../policy/simulate.js';
import {
  breakCounts,
  breakLine,
  describeFlow,
  orderedRows,
  whyRefused,
  type BreakCounts,
} from '../policy/report.js';
import { SEVERITY_RANK, severityOf, type ViolationSeverity } from '../policy/refusal-severity.js';

/** Where the documented policy and the traffic that really runs disagree. */
export interface Drift {
  /** Flows that break the policy, counted as a simulation counts them (scan probes are flows too, said as such). */
  counts: BreakCounts;
  /** Traffic the policy does not allow that happens anyway, most severe first. */
  violations: Array<BlockedFlow & { severity: ViolationSeverity }>;
  /** Context groups no traffic used: stale rules, or a flow that stopped. */
  unusedGroups: string[];
  /** Hosts outside every zone that talk to zone members: undocumented devices. */
  unzonedHosts: string[];
  /** Zone members (single addresses) never seen in the traffic. */
  silentMembers: Array<{ zone: string; address: string }>;
}

export function driftOf(policy: Policy, r: SimulationResult): Drift {
  const seen = new Set(r.hosts);
  const silent: Drift['silentMembers'] = [];
  for (const z of policy.zones) {
    for (const m of z.members) {
      const single = !m.includes('/') || m.endsWith('/32') || m.endsWith('/128');
      const ip = m.split('/')[0]!;
      if (single && !seen.has(ip)) silent.push({ zone: z.name, address: ip });
    }
  }
  return {
    counts: breakCounts(r),
    violations: r.blocked
      .map((b) => ({ ...b, severity: severityOf(b) }))
      .sort((x, y) => SEVERITY_RANK[y.severity] - SEVERITY_RANK[x.severity]),
    unusedGroups: Object.entries(r.groupUse)
      .filter(([, n]) => n === 0)
      .map(([g]) => g),
    unzonedHosts: r.unzonedHosts,
    silentMembers: silent,
  };
}

/** The traffic violates the documented policy: `weir policy drift` exits with DRIFT_VIOLATED then. */
export const DRIFT_VIOLATED = 2;

/** Rows a text listing shows at most; beyond, it says how many more there are. */
const MAX_ROWS = 20;

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** Plain-language drift: the counts, then violations most severe first (each scan one row), each list cut with "… N more". */
export function driftSummary(d: Drift, nameOf: (ip: string) => string): string {
  const rows = orderedRows(d.violations);
  const c = { ...d.counts, rows: rows.length };
  const lines = [
    `${breakLine(c, c.flows === 1 ? 'runs that the policy does not allow' : 'run that the policy does not allow')}; ${plural(d.unusedGroups.length, 'context group was', 'context groups were')} never used; ` +
      `${plural(d.unzonedHosts.length, 'host outside every zone talks', 'hosts outside every zone talk')} to zone members; ${plural(d.silentMembers.length, 'zone member was', 'zone members were')} silent.`,
  ];
  const more = (n: number, what: string): void => {
    if (n > MAX_ROWS) lines.push(`  … ${n - MAX_ROWS} more ${what} (--json lists them all)`);
  };
  if (rows.length) {
    lines.push('', 'NOT ALLOWED (most severe first)');
    for (const b of rows.slice(0, MAX_ROWS)) {
      lines.push(
        `  ${severityOf(b).padEnd(8)}  ${describeFlow(b)} (${whyRefused(b)}; zone ${b.zone}, ${b.mode})`,
      );
    }
    more(rows.length, rows.length - MAX_ROWS === 1 ? 'row' : 'rows');
  }
  const list = (items: string[], what: string): void => {
    for (const s of items.slice(0, MAX_ROWS)) lines.push(`  ${s}`);
    more(items.length, what);
  };
  if (d.unusedGroups.length) {
    lines.push('', 'UNUSED CONTEXT GROUPS');
    list(d.unusedGroups, 'groups');
  }
  if (d.unzonedHosts.length) {
    lines.push('', 'HOSTS IN NO ZONE');
    list(d.unzonedHosts.map(nameOf), 'hosts');
  }
  if (d.silentMembers.length) {
    lines.push('', 'SILENT ZONE MEMBERS');
    list(
      d.silentMembers.map((m) => `${nameOf(m.address)} (zone ${m.zone})`),
      'members',
    );
  }
  return lines.join('\n');
}
