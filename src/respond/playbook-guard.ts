import type { Baseline } from '../discover/baseline.js';
import { CompiledBaseline } from '../detect/profile.js';
import { canonicalIp, HostSet, isUnicastHost, parseCidr } from '../policy/hosts.js';
import type { Playbook } from '../policy/playbook-model.js';
import type { CutFlow } from './block-impact.js';

/** A learned flow as the guard keeps it: its ends and service; its lists and count are read from the compiled baseline. */
interface Flow {
  readonly id: string;
  readonly client: string;
  readonly server: string;
  readonly service: string;
}

/**
 * The guard rails a playbook's block passes before anything reaches the kernel. Pure: the runner gives it the
 * baseline and the addresses that must never be blocked; it answers with the refusal, or null.
 */
export class BlockGuard {
  /** The learned flows of each address (as client or server), in the baseline's order. */
  private readonly flows = new Map<string, Flow[]>();
  private readonly protectedSet = new HostSet();

  /**
   * `baseline`, as parsed, is read here and not kept: a live run keeps its compiled form (`compiled`: the
   * detection engine's, shared; compiled here when not given) instead of the parsed document.
   */
  constructor(
    baseline: Baseline,
    /** The enforcement host's own addresses, its gateway and router, the manager: never blocked by a playbook. */
    readonly protectedAddresses: readonly string[],
    private readonly compiled: CompiledBaseline = new CompiledBaseline(baseline),
  ) {
    // Thousands of edges share a handful of services: one string each.
    const services = new Map<string, string>();
    for (const [id, e] of Object.entries(baseline.edges)) {
      const text = `${e.transport}/${e.port}`;
      let service = services.get(text);
      if (service === undefined) services.set(text, (service = text));
      const f: Flow = { id, client: e.client, server: e.server, service };
      for (const ip of e.client === e.server ? [e.client] : [e.client, e.server]) {
        const list = this.flows.get(ip);
        if (list === undefined) this.flows.set(ip, [f]);
        else list.push(f);
      }
    }
    for (const p of protectedAddresses) {
      const c = parseCidr(p);
      if (c !== null) this.protectedSet.add(c);
    }
  }

  /** Learned-normal flows a block of `ip` would cut. */
  cuts(ip: string): CutFlow[] {
    return (this.flows.get(ip) ?? []).map((f) => {
      // Compiled from the same baseline, so always found; were it not, the flow still counts (and refuses).
      const l = this.compiled.profile(f.id)?.learned;
      return {
        client: f.client,
        server: f.server,
        service: f.service,
        // Copies: the compiled lists are shared between edges (and frozen).
        protocols: l ? [...l.protocols] : [],
        functions: l ? [...l.functions] : [],
        requests: l?.requests ?? 0,
      };
    });
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
