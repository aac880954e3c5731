// What the fleet lab tests read off a site's kernel, and the manager's fleet policy they push.
import { execFileSync } from 'node:child_process';

/** A small fleet policy: its tables and blocklist set load at each site (inet family, in the site's netns). */
export const FLEET_POLICY = (n: number): string => `weir: policy/1
zones:
  - { name: sup${n}, members: [10.78.0.0/28], mode: monitor }
  - { name: ctl, members: [10.78.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup${n}, to: ctl }]
groups:
  - { name: ews, conduit: c, clients: [10.78.0.0/28], servers: [ctl], ports: [502], access: read-write }
`;

/** The addresses in the blocklist set of Weir's inet table in namespace `ns` (none when it is not loaded). */
export function blockedIn(ns: string): string[] {
  try {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'weir', 'blocklist'],
      { encoding: 'utf8' },
    );
    const set = (
      JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
    ).nftables.find((x) => x.set)?.set;
    return (set?.elem ?? []).map((e) =>
      typeof e === 'string' ? e : String((e as { elem: { val: string } }).elem.val),
    );
  } catch {
    return [];
  }
}
