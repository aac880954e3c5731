import { execFileSync } from 'node:child_process';
import { readApplied } from './state.js';
import { parsePolicy } from '../policy/load.js';
import { zoneSubnets, type NeverBlock } from '../respond/playbook-guard.js';

/** `ip -j …` parsed; a failure (no `ip`, a namespace gone, a timeout) is noted in `failed`, not taken for "none". */
function ipJson(netns: string | undefined, args: string[], failed: string[]): unknown[] {
  try {
    const out = execFileSync('ip', [...(netns ? ['-n', netns] : []), '-j', ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return JSON.parse(out || '[]') as unknown[];
  } catch (e) {
    failed.push(`ip ${args.join(' ')}: ${(e as Error).message.split('\n')[0]}`);
    return [];
  }
}

/**
 * What no block may hit, as this enforcement host sees it now: its own addresses and their subnets (network and
 * broadcast addresses), the routers of its IPv4 and IPv6 default routes, the gateway `enforce apply` set up and
 * the one the settings name, plus those given (the fleet hub/manager, other infrastructure) and the zones' blocks.
 * Blocking any of them would cut Weir off from the plant it protects, or the plant from its way out. Read again
 * for each block: addresses, routes and the gateway change while a runner or a node runs.
 */
export function hostNeverBlock(o: {
  netns?: string;
  stateDir: string;
  extra: readonly string[];
  /** settings enforce.gateway_ip ('' or absent: none). */
  gatewayIp?: string;
  /** The zones' member blocks (address/prefix): their network and broadcast addresses too. */
  subnets?: readonly string[];
}): NeverBlock {
  const out = new Set<string>(o.extra);
  const subnets = new Set<string>(o.subnets ?? []);
  const failed: string[] = [];
  for (const link of ipJson(o.netns, ['addr'], failed) as Array<{
    addr_info?: Array<{ local?: string; prefixlen?: number }>;
  }>)
    for (const a of link.addr_info ?? [])
      if (a.local) {
        out.add(a.local);
        if (a.prefixlen !== undefined) subnets.add(`${a.local}/${a.prefixlen}`);
      }
  // A host with IPv6 switched off answers `ip -6 route` with an error: it has no IPv6 router to spare.
  for (const family of [[], ['-6']])
    for (const r of ipJson(
      o.netns,
      [...family, 'route', 'show', 'default'],
      family.length > 0 ? [] : failed,
    ) as Array<{
      gateway?: string;
    }>)
      if (r.gateway) out.add(r.gateway);
  const applied = readApplied(o.stateDir);
  if (applied?.gatewayIp) out.add(applied.gatewayIp);
  if (o.gatewayIp) out.add(o.gatewayIp);
  // The zones of the policy in force here (a stealth bridge has no subnet of its own to read).
  if (applied && applied.removedAt === undefined) {
    const r = parsePolicy(applied.text, applied.source);
    if (r.ok) for (const s of zoneSubnets(r.policy)) subnets.add(s);
  }
  return {
    addresses: [...out],
    subnets: [...subnets],
    ...(failed.length > 0 ? { unreadable: failed.join('; ') } : {}),
  };
}

/**
 * hostNeverBlock read again when a block asks, at most once a second: a burst of detections (a sweep) asks for
 * each, and each read runs `ip` three times on the event loop.
 */
export function liveNeverBlock(o: Parameters<typeof hostNeverBlock>[0]): () => NeverBlock {
  let at = -Infinity;
  let last: NeverBlock | null = null;
  return () => {
    const now = performance.now();
    if (last === null || now - at > 1000) {
      last = hostNeverBlock(o);
      at = now;
    }
    return last;
  };
}

/** The addresses of hostNeverBlock (a host's own, routers, gateway, those given). */
export function neverBlockAddresses(o: {
  netns?: string;
  stateDir: string;
  extra: readonly string[];
}): string[] {
  return [...hostNeverBlock(o).addresses];
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
