/**
 * Patch planning: vulnerable assets with a vendor fix, most at risk first, each placed in the next
 * maintenance window of the policy, with what a restart would interrupt — the conversations of the
 * baseline (observed edges) that have the asset at either end. Pure.
 */
import type { Edge } from '../discover/model.js';
import type { AssetRisk } from './risk.js';
import type { VulnerabilityReport, PatchWindow } from './vulnerabilities.js';

export interface PatchStep {
  assetId: string;
  addresses: string[];
  zone: string | null;
  risk: number;
  advisories: string[];
  /** Where the fix goes: the next maintenance window, or null with the reason in `note`. */
  window: PatchWindow | null;
  note: string;
  /** Conversations a restart interrupts, in words ("10.77.0.10 polls it over modbus/502 every 0.2 s"). */
  interrupts: string[];
}

export function planPatches(
  vulns: VulnerabilityReport,
  risks: readonly AssetRisk[],
  edges: readonly Edge[],
): PatchStep[] {
  const riskOf = new Map(risks.map((r) => [r.assetId, r.score]));
  const window = vulns.maintenanceWindows.find((w) => w.nextStart !== null) ?? null;
  // Edges by the addresses at their ends, in edge order: each asset reads only its own (the manager plans
  // every site's patches per request; a scan of all edges per vulnerable asset grew as their product).
  const touching = new Map<string, number[]>();
  const note = (ip: string, i: number): void => {
    const l = touching.get(ip);
    if (l === undefined) touching.set(ip, [i]);
    else if (l[l.length - 1] !== i) l.push(i);
  };
  edges.forEach((e, i) => {
    note(e.server, i);
    note(e.client, i);
  });
  const steps: PatchStep[] = [];
  for (const a of vulns.assets) {
    const fixable = a.findings.filter((f) => f.fixAvailable);
    const ips = new Set(a.addresses);
    const interrupts: string[] = [];
    const mine = new Set<number>();
    for (const ip of ips) for (const i of touching.get(ip) ?? []) mine.add(i);
    for (const i of [...mine].sort((x, y) => x - y)) {
      const e = edges[i]!;
      if (ips.has(e.server)) {
        const period = e.pollInterval ? ` every ${e.pollInterval.toFixed(1)} s` : '';
        interrupts.push(
          `${e.client} ${e.pollInterval ? 'polls' : 'talks to'} it over ${e.protocol}/${e.port}${period}`,
        );
      } else if (ips.has(e.client))
        interrupts.push(`it talks to ${e.server} over ${e.protocol}/${e.port}`);
    }
    steps.push({
      assetId: a.assetId,
      addresses: a.addresses,
      zone: a.zone,
      risk: riskOf.get(a.assetId) ?? 0,
      advisories: (fixable.length ? fixable : a.findings).map((f) => f.advisoryId),
      window: fixable.length ? window : null,
      note:
        fixable.length === 0
          ? 'no vendor fix in the advisories: mitigate (segmentation, the advisories\u2019 workarounds)'
          : window
            ? `apply in ${window.name} (${window.when}), next ${window.nextStart}`
            : vulns.maintenanceWindows.length
              ? 'no maintenance window opens in the next two weeks'
              : 'the policy names no maintenance window: agree one with operations',
      interrupts,
    });
  }
  steps.sort((x, y) => y.risk - x.risk || x.assetId.localeCompare(y.assetId));
  return steps;
}
