import type { Policy } from '../policy/model.js';
import type { BlockedFlow, SimulationResult } from '../policy/simulate.js';

/** Where the documented policy and the traffic that really runs disagree. */
export interface Drift {
  /** Traffic the policy does not allow that happens anyway. */
  violations: BlockedFlow[];
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
    violations: r.blocked,
    unusedGroups: Object.entries(r.groupUse).filter(([, n]) => n === 0).map(([g]) => g),
    unzonedHosts: r.unzonedHosts,
    silentMembers: silent,
  };
}

/** Plain-language drift summary. */
export function driftSummary(d: Drift, nameOf: (ip: string) => string): string {
  const flows = new Set(d.violations.map((v) => `${v.client}>${v.server}:${v.port}`)).size;
  const lines = [
    `${flows} flow(s) run that the policy does not allow; ${d.unusedGroups.length} context group(s) were never used; ${d.unzonedHosts.length} host(s) outside every zone talk to zone members; ${d.silentMembers.length} zone member(s) were silent.`,
  ];
  for (const v of d.violations.slice(0, 20)) lines.push(`  not allowed: ${v.clientName} → ${v.serverName} ${v.func !== null ? `${v.protocol} ${v.funcName}` : `${v.transport}/${v.port}`} (${v.reason}, ${v.requests || v.packets}×)`);
  for (const g of d.unusedGroups) lines.push(`  unused group: ${g}`);
  for (const h of d.unzonedHosts) lines.push(`  no zone: ${nameOf(h)}`);
  for (const m of d.silentMembers) lines.push(`  silent member of ${m.zone}: ${nameOf(m.address)}`);
  return lines.join('\n');
}
