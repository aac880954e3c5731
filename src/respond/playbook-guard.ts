import type { Baseline } from '../discover/baseline.js';
import { canonicalIp, HostSet, isUnicastHost, parseCidr } from '../policy/hosts.js';
import type { Playbook } from '../policy/playbook-model.js';
import type { CutFlow } from './block-impact.js';

/**
 * The guard rails a playbook's block passes before anything reaches the kernel. Pure: the runner gives it the
 * baseline and the addresses that must never be blocked; it answers with the refusal, or null.
 */
export class BlockGuard {
  private readonly flows = new Map<string, CutFlow[]>();
  private readonly protectedSet = new HostSet();

  constructor(
    baseline: Baseline,
    /** The enforcement host's own addresses, its gateway and router, the manager: never blocked by a playbook. */
    readonly protectedAddresses: readonly string[],
  ) {
    for (const e of Object.values(baseline.edges)) {
      const f: CutFlow = {
        client: e.client,
        server: e.server,
        service: `${e.transport}/${e.port}`,
        protocols: e.protocols,
        functions: e.functions,
        requests: e.requests,
      };
      for (const ip of new Set([e.client, e.server])) {
        const list = this.flows.get(ip) ?? [];
        list.push(f);
        this.flows.set(ip, list);
      }
    }
    for (const p of protectedAddresses) {
      const c = parseCidr(p);
      if (c !== null) this.protectedSet.add(c);
    }
  }

  /** Learned-normal flows a block of `ip` would cut. */
  cuts(ip: string): CutFlow[] {
    return this.flows.get(ip) ?? [];
  }

  /** Why `pb` may not block `ip`, or null when it may. */
  refusal(pb: Playbook, ip: string): { reason: string; cuts: CutFlow[] } | null {
    if (canonicalIp(ip) === null)
      return { reason: `'${ip}' is not an IPv4 or IPv6 address the blocklist can hold`, cuts: [] };
    if (!isUnicastHost(ip)) return { reason: `${ip} is not a unicast host address`, cuts: [] };
    if (this.protectedSet.has(ip))
      return {
        reason: `${ip} is the enforcement host, its gateway or the manager: a playbook never blocks those`,
        cuts: [],
      };
    const cuts = this.cuts(ip);
    if (cuts.length > 0 && !named(pb, ip))
      return {
        reason: `${ip} has ${cuts.length} baseline flow(s); a playbook never cuts learned-normal traffic unless its may_block names the address`,
        cuts,
      };
    return null;
  }
}

function named(pb: Playbook, ip: string): boolean {
  const set = new HostSet();
  for (const m of pb.mayBlock) {
    const c = parseCidr(m);
    if (c !== null) set.add(c);
  }
  return set.has(ip);
}
