import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { Baseline } from '../discover/baseline.js';
import { humanDuration } from '../policy/load.js';
import { latestBaseline } from '../store/baseline-store.js';
import { simulationsOf, type SimulationRow } from '../store/change-store.js';
import type { CompiledPolicy } from '../policy/evaluate.js';

/** Which baseline a simulation was judged against, by content: another store's v1 is not this store's v1. */
export const baselineDigest = (b: Baseline): string =>
  createHash('sha256').update(JSON.stringify(b)).digest('hex');

/** A zone the change would enforce, with the simulated traffic it needs (the longer of in force and proposed). */
export interface EnforcingZone {
  name: string;
  window: number;
}

const span = (s: SimulationRow): number => s.lastTs - s.firstTs;
const flowsOf = (s: SimulationRow, zone: string): number => s.zones[zone]?.flows ?? 0;
const cutsOf = (s: SimulationRow, zone: string): number => s.zones[zone]?.baselineBlocked ?? 0;

/**
 * Whether the replay carried at least `pct`% of the zone's baseline flows, by count and by learned requests
 * (flows silent while learning for longer than the replay spans are not counted unless it carried them).
 */
function covers(s: SimulationRow, zone: string, pct: number): boolean {
  const z = s.zones[zone];
  if (z?.baselineFlows === undefined) return false;
  return (
    z.baselineSeen! * 100 >= pct * z.baselineFlows &&
    z.baselineRequestsSeen! * 100 >= pct * z.baselineRequests!
  );
}

/** Why a replay is too thin for a zone, naming the learned flows it did not carry. */
function thin(s: SimulationRow, zone: string, pct: number): string {
  const z = s.zones[zone];
  if (z?.baselineFlows === undefined)
    return `zone ${zone}: simulation ${s.id} was recorded before Weir counted which baseline flows a replay carries: simulate again with --db`;
  const share = (a: number, b: number): number => Math.floor((a * 100) / b);
  const unseen = (z.unseen ?? []).map(
    (f) => `${f.client} → ${f.server} ${f.transport}/${f.port} (${f.requests} requests)`,
  );
  const more = z.baselineFlows - z.baselineSeen! - unseen.length;
  return (
    `zone ${zone}: simulation ${s.id} saw ${z.baselineSeen} of the zone's ${z.baselineFlows} baseline flows (${share(z.baselineSeen!, z.baselineFlows)}%) ` +
    `carrying ${share(z.baselineRequestsSeen!, z.baselineRequests!)}% of their learned requests; at least ${pct}% of both are required (this store's rule simulation_coverage_pct: \`weir policy rules\`): ` +
    `simulate on traffic the zone really carries over its window. Not seen: ${unseen.join(', ')}${more > 0 ? `, and ${more} more` : ''}` +
    (z.baselineOccasional
      ? ` (${z.baselineOccasional} learned flow(s) silent for longer than the replay spans are not counted)`
      : '')
  );
}

/**
 * Whether the recorded simulations of these rules show that enforcing the zones cuts no learned-normal flow.
 * Only simulations against the store's current baseline count. A baseline flow that any of them shows
 * blocked refuses: a clean replay of other traffic does not make that flow less normal. The evidence is the
 * newest of them that covers each zone's window and carried at least `coveragePct`% of the zone's baseline flows
 * (by count and by learned requests).
 */
export function judgeEvidence(
  db: Db,
  rulesSha: string,
  zones: EnforcingZone[],
  coveragePct: number,
): { simulationId: string | null; problems: string[] } {
  const sims = simulationsOf(db, rulesSha);
  if (sims.length === 0)
    return {
      simulationId: null,
      problems: [
        'these rules were never simulated: run `weir policy simulate --db` on recorded traffic',
      ],
    };
  const current = latestBaseline(db);
  const digest = current === null ? null : baselineDigest(current);
  const bound = sims.filter((s) => digest !== null && s.baselineSha256 === digest);
  if (bound.length === 0) {
    const s = sims[0]!;
    const used = `v${s.baselineVersion} ${s.baselineSha256?.slice(0, 12) ?? '(content unknown)'}`;
    return {
      simulationId: s.id,
      problems: [
        s.baselineVersion === null
          ? `simulation ${s.id} ran without a baseline, so it cannot tell legitimate flows`
          : current === null
            ? `simulation ${s.id} was judged against a baseline (${used}) this store does not hold: learn the plant's baseline here, then simulate with --db`
            : `simulation ${s.id} was judged against another baseline (${used}), not the store's current one (v${current.version} ${digest!.slice(0, 12)}): simulate again with --db`,
      ],
    };
  }
  const problems: string[] = [];
  for (const z of zones) {
    const cut = bound.find((s) => cutsOf(s, z.name) > 0);
    if (cut !== undefined)
      problems.push(
        `zone ${z.name}: simulation ${cut.id} blocks ${cutsOf(cut, z.name)} baseline flow(s)`,
      );
  }
  // Flows the replay could not be expected to carry are judged by the rules alone (see ZoneCounts.occasionalCut).
  for (const z of zones) {
    const by = bound.find((s) => (s.zones[z.name]?.occasionalCut ?? []).length > 0);
    const cut = by?.zones[z.name]?.occasionalCut ?? [];
    if (by !== undefined)
      problems.push(
        `zone ${z.name}: the rules would cut ${cut.length} learned flow(s) too occasional for simulation ${by.id} to carry: ` +
          cut
            .slice(0, 5)
            .map((f) => `${f.client} → ${f.server} ${f.transport}/${f.port}`)
            .join(', ') +
          (cut.length > 5 ? `, and ${cut.length - 5} more` : ''),
      );
  }
  const covering = bound.find((s) =>
    zones.every(
      (z) => span(s) >= z.window && flowsOf(s, z.name) > 0 && covers(s, z.name, coveragePct),
    ),
  );
  const evidence = covering ?? bound[0]!;
  if (covering === undefined)
    for (const z of zones) {
      if (span(evidence) < z.window) {
        const need = humanDuration(z.window);
        problems.push(
          `zone ${z.name}: simulation ${evidence.id} covers ${humanDuration(span(evidence))} of traffic, the zone requires ${need}: ` +
            `record at least ${need} of traffic and simulate on it, or lower \`simulation_window\` of zone ${z.name} in a change of its own (the longer of the windows in force and proposed applies)`,
        );
      }
      if (flowsOf(evidence, z.name) === 0)
        problems.push(
          `zone ${z.name}: simulation ${evidence.id} saw no traffic of the zone, so it cannot tell what enforcing it cuts: simulate on traffic the zone carries`,
        );
      else if (!covers(evidence, z.name, coveragePct))
        problems.push(thin(evidence, z.name, coveragePct));
    }
  return { simulationId: evidence.id, problems };
}

/**
 * The kernel refuses IPv6 crossing the host while a zone enforces and the policy names no IPv6 host (zones are
 * IPv4; nftables cannot tell an enforced PLC's link-local address from another's). The simulator judges flows
 * by the policy's zones, where an IPv6 flow is in none: so the baseline's IPv6 flows are checked here, or
 * enforcing would cut them with the simulation saying nothing.
 */
export function ipv6Cuts(baseline: Baseline | null, cp: CompiledPolicy): string | null {
  if (baseline === null || cp.namesIpv6()) return null;
  // TCP and UDP: ICMPv6 link upkeep (neighbour and router discovery, multicast listener reports, the bulk of
  // an IPv6 baseline's 'ip' flows) still passes the kernel.
  const v6 = Object.values(baseline.edges).filter(
    (e) =>
      (e.transport === 'tcp' || e.transport === 'udp') &&
      (e.client.includes(':') || e.server.includes(':')),
  );
  if (v6.length === 0) return null;
  const some = v6
    .slice(0, 5)
    .map((e) => `${e.client} → ${e.server} ${e.transport}/${e.port}`)
    .join(', ');
  return `enforcing refuses IPv6 crossing this host (the policy names no IPv6 host), and the baseline holds ${v6.length} IPv6 flow(s): ${some}${v6.length > 5 ? ', …' : ''}; name those hosts' IPv6 addresses in the zones and groups, or keep every zone below enforce`;
}
