import { gatewayState, readApplied, type GatewayState } from '../enforce/state.js';

/** What the enforcement host of this store really runs, as far as this machine can tell. */
export interface EnforcementView {
  /** 'unknown': nothing was applied on this host (enforcement may run elsewhere, or not at all). */
  kernel: { state: 'unknown' } | { state: 'applied'; sha: string; source: string; appliedAt: string; actor: string; matchesActive: boolean };
  gateway: { state: 'none' } | { state: 'up'; since: string; servers: number; policySha: string } | { state: 'down'; since: string; servers: number; reason: string };
  /** One plain sentence for the overview. */
  text: string;
}

export function enforcementView(stateDir: string, activeSha: string | null): EnforcementView {
  const a = readApplied(stateDir);
  const kernel: EnforcementView['kernel'] = a === null ? { state: 'unknown' }
    : { state: 'applied', sha: a.sha, source: a.source, appliedAt: a.appliedAt, actor: a.actor, matchesActive: a.sha === activeSha };
  const gateway = gatewayView(gatewayState(stateDir));
  const parts: string[] = [];
  if (kernel.state === 'unknown') parts.push('Enforcement state unknown: no ruleset was applied on this host, so nothing here says what blocks traffic.');
  else parts.push(`The kernel runs policy ${kernel.sha.slice(0, 12)} (applied ${kernel.appliedAt} by ${kernel.actor})${kernel.matchesActive ? '' : activeSha === null ? ', while the store has no active policy' : `, NOT the active policy ${activeSha.slice(0, 12)}`}.`);
  if (gateway.state === 'down') parts.push(`GATEWAY DOWN since ${gateway.since} (${gateway.reason}): traffic to ${gateway.servers} guarded server port(s) passes uninspected; the kernel allowlists still hold.`);
  if (gateway.state === 'up') parts.push(`The gateway checks every request to ${gateway.servers} server port(s), up since ${gateway.since}.`);
  return { kernel, gateway, text: parts.join(' ') };
}

function gatewayView(s: GatewayState): EnforcementView['gateway'] {
  if (s.state === 'none') return { state: 'none' };
  const servers = s.health.targets.length;
  if (s.state === 'up') return { state: 'up', since: s.health.startedAt, servers, policySha: s.health.policySha };
  return { state: 'down', since: s.since, servers, reason: s.health.stopReason ?? (s.health.steering.ok ? 'heartbeats stopped' : s.health.steering.error ?? 'unknown') };
}
