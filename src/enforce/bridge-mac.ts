import { execFileSync } from 'node:child_process';

/**
 * The MAC of the bridge the gateway listens on (steering in the bridge family rewrites frames to it), read from
 * sysfs on this host or inside a lab's network namespace. `weir enforce apply` and a fleet site applying the
 * manager's policy both ask it here.
 */
export function bridgeMac(iface: string, netns?: string): string {
  const cat = ['cat', `/sys/class/net/${iface}/address`];
  return execFileSync(
    netns ? 'ip' : cat[0]!,
    netns ? ['netns', 'exec', netns, ...cat] : cat.slice(1),
    { encoding: 'utf8' },
  ).trim();
}
