import type { Baseline } from '../discover/baseline.js';
import { canonicalIp, HostSet, isUnicastHost, parseCidr } from '../policy/hosts.js';
import type { Playbook } from '../policy/playbook-model.js';
import type { CutFlow } from './block-impact.js';

/**
 * The guard rails a playbook's block passes before anything reaches the kernel. Pure: the runner gives it the
 * baseline and the addresses that must never be blocked; it answers with the refusal, or null. It reads the
 * baseline once and keeps only the learned flows' ends, service, lists and count (a live run keeps no parsed
 * document: thousands of edge records with their reads, writes and values).
 */
export class BlockGuard {
  /** The learned flows of each address (as client or server), in the baseline's order. */
  private readonly flows = new Map<string, Readonly<CutFlow>[]>();
  private readonly protectedSet = new HostSet();

  constructor(
    baseline: Baseline,
    /** The enforcement host's own addresses, its gateway and router, the manager: never blocked by a playbook. */
    readonly protectedAddresses: readonly string[],
  ) {
    // Thousands of edges repeat a few services and lists: one frozen copy of each (handed out as copies).
    const services = new Map<string, string>();
    const lists = new Map<string, string[]>();
    const list = (l: readonly string[]): string[] => {
      const k = l.join('\u0000');
      let one = lists.get(k);
      if (one === undefined) lists.set(k, (one = Object.freeze([...l]) as string[]));
      return one;
    };
    for (const e of Object.values(baseline.edges)) {
      const text = `${e.transport}/${e.port}`;
      let service = services.get(text);
      if (service === undefined) services.set(text, (service = text));
      const f: Readonly<CutFlow> = Object.freeze({
        client: e.client,
        server: e.server,
        service,
        protocols: list(e.protocols),
        functions: list(e.functions),
        requests: e.requests,
      });
      for (const ip of e.client === e.server ? [e.client] : [e.client, e.server]) {
        const at = this.flows.get(ip);
        if (at === undefined) this.flows.set(ip, [f]);
        else at.push(f);
      }
    }
    for (const p of protectedAddresses) {
      const c = parseCidr(p);
      if (c !== null) this.protectedSet.add(c);
    }
  }

  /** Learned-normal flows a block of `ip` would cut (copies: the caller's to keep or change). */
  cuts(ip: string): CutFlow[] {
    return (this.flows.get(ip) ?? []).map((f) => ({
      ...f,
      protocols: [...f.protocols],
      functions: [...f.functions],
    }));
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
