import { execFileSync } from 'node:child_process';
import { readApplied } from './state.js';

function ipJson(netns: string | undefined, args: string[]): unknown[] {
  try {
    const out = execFileSync('ip', [...(netns ? ['-n', netns] : []), '-j', ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return JSON.parse(out || '[]') as unknown[];
  } catch {
    return [];
  }
}

/**
 * Addresses a playbook must never block, as this enforcement host sees them: its own addresses, the routers of
 * its default routes, the gateway `enforce apply` set up, plus those given (the manager, other infrastructure).
 * Blocking any of them would cut Weir off from the plant it protects, or the plant from its way out.
 */
export function neverBlockAddresses(o: {
  netns?: string;
  stateDir: string;
  extra: readonly string[];
}): string[] {
  const out = new Set<string>(o.extra);
  for (const link of ipJson(o.netns, ['addr']) as Array<{ addr_info?: Array<{ local?: string }> }>)
    for (const a of link.addr_info ?? []) if (a.local) out.add(a.local);
  for (const r of ipJson(o.netns, ['route', 'show', 'default']) as Array<{ gateway?: string }>)
    if (r.gateway) out.add(r.gateway);
  const applied = readApplied(o.stateDir);
  if (applied?.gatewayIp) out.add(applied.gatewayIp);
  return [...out];
}
