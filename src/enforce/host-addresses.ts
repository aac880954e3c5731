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

/**
 * Every address the bridge and its ports carry (IPv4 and IPv6, link-local included), as `address/prefix`, a
 * port's with its name. Stealth mode requires none: an address is something the host can answer or speak
 * from, and a port with an IPv6 link-local address sends router solicitations and MLD reports of its own,
 * past the bridge's hooks. Throws when the bridge does not exist.
 */
export function bridgeAddresses(bridge: string, netns?: string): string[] {
  const ip = (args: string[]): unknown[] => {
    try {
      const out = execFileSync('ip', [...(netns ? ['-n', netns] : []), '-j', ...args], {
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return JSON.parse(out || '[]') as unknown[];
    } catch (err) {
      throw new Error(`cannot read the addresses of bridge ${bridge}: ${(err as Error).message}`);
    }
  };
  return [
    ...addressesOf(ip(['addr', 'show', 'dev', bridge])),
    ...addressesOf(ip(['addr', 'show', 'master', bridge]), true),
  ];
}

/** `ip -j addr` output → `address/prefix` strings (with the interface's name for ports). */
export function addressesOf(links: unknown[], named = false): string[] {
  const out: string[] = [];
  for (const link of links as Array<{
    ifname?: string;
    addr_info?: Array<{ local?: string; prefixlen?: number }>;
  }>)
    for (const a of link.addr_info ?? [])
      if (a.local)
        out.push(`${a.local}/${a.prefixlen ?? ''}${named ? ` (port ${link.ifname ?? '?'})` : ''}`);
  return out;
}
