import type { Baseline } from '../discover/baseline.js';
import {
  canonicalIp,
  HostSet,
  intToIpv4,
  ipv4ToInt,
  ipv4Span,
  isUnicastHost,
  parseCidr,
} from '../policy/hosts.js';
import type { Policy } from '../policy/model.js';
import type { Playbook } from '../policy/playbook-model.js';
import type { CutFlow } from './block-impact.js';

/**
 * What no block may ever hit, as the enforcement host sees it at the moment of the block (its addresses, routes
 * and gateway change while Weir runs, so it is read again for each block).
 */
export interface NeverBlock {
  /**
   * Addresses and blocks: the host's own, its default routers, its inline gateway, the fleet manager/hub and
   * what the operator named (--never-block).
   */
  addresses: readonly string[];
  /** IPv4 subnets (address/prefix) of the host's links and the zones: their network and broadcast addresses. */
  subnets: readonly string[];
  /** Why the host's own addresses or routes could not be read: then no block is safe to make. */
  unreadable?: string;
}

/** The zones' member blocks (address/prefix): their network and broadcast addresses are never blocked. */
export function zoneSubnets(policy: Policy | null | undefined): string[] {
  return (policy?.zones ?? []).flatMap((z) => z.members.filter((m) => m.includes('/')));
}

/** A NeverBlock read when asked (the host's view now), or fixed addresses (tests, a host that has none). */
export type NeverBlockSource = readonly string[] | (() => NeverBlock);

export const neverBlockOf = (s: NeverBlockSource): NeverBlock =>
  typeof s === 'function' ? s() : { addresses: s, subnets: [] };

/**
 * The one refusal every block passes, whoever asks (a playbook, `weir block`, an approved block proposal, a
 * block from the fleet): why `ip` may never be blocked here, or null. Not overridable: blocking any of these cuts
 * Weir off from the plant, the plant from its way out, or every device of a subnet at once.
 */
export function neverBlockRefusal(ip: string, never: NeverBlock): string | null {
  if (canonicalIp(ip) === null)
    return `'${ip}' is not an IPv4 or IPv6 address the blocklist can hold`;
  if (!isUnicastHost(ip))
    return `${ip} is not a unicast host address (unspecified, loopback, link-local, multicast or broadcast)`;
  // Without the host's own addresses and routers the set is not whole: refusing a block is the safe side.
  if (never.unreadable !== undefined)
    return `this host's addresses and routes cannot be read (${never.unreadable}): no block is made until they can`;
  const protectedSet = new HostSet();
  for (const p of never.addresses) {
    const c = parseCidr(p);
    if (c !== null) protectedSet.add(c);
  }
  if (protectedSet.has(ip))
    return `${ip} is the enforcement host, its gateway or router, or the manager: never blocked`;
  const at = ip.includes('.') ? ipv4ToInt(ip) : null;
  if (at !== null)
    for (const s of never.subnets) {
      const c = parseCidr(s);
      // A /31 or /32 has no network or broadcast address (RFC 3021).
      if (c === null || c.family !== 'ipv4' || c.prefix > 30) continue;
      const { lo, hi } = ipv4Span(c);
      if (at === lo || at === hi)
        return `${ip} is the ${at === lo ? 'network' : 'broadcast'} address of ${intToIpv4(lo)}/${c.prefix}: a block would cut every device's traffic to it, not one host`;
    }
  return null;
}

/**
 * The guard rails a playbook's block passes before anything reaches the kernel: the one refusal above (read
 * again at each block), the baseline's devices and flows, and the evidence (a spoofable contact never blocks a
 * known device). It reads the baseline once and keeps only the learned flows' ends, service, lists and count
 * (a live run keeps no parsed document: thousands of edge records with their reads, writes and values).
 */
export class BlockGuard {
  /** The learned flows of each address (as client or server), in the baseline's order. */
  private readonly flows = new Map<string, Readonly<CutFlow>[]>();
  /** Every device of the baseline (with or without learned IP flows). */
  private readonly assets: ReadonlySet<string>;

  constructor(
    baseline: Baseline,
    /** What is never blocked, read again at each block (see NeverBlock). */
    readonly never: NeverBlockSource,
    /** The baseline's devices, when the caller holds them already (the detection engine's compiled set). */
    assets?: ReadonlySet<string>,
  ) {
    this.assets = assets ?? new Set(baseline.assets);
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
  }

  /** Learned-normal flows a block of `ip` would cut (copies: the caller's to keep or change). */
  cuts(ip: string): CutFlow[] {
    return (this.flows.get(ip) ?? []).map((f) => ({
      ...f,
      protocols: [...f.protocols],
      functions: [...f.functions],
    }));
  }

  /**
   * Why `pb` may not block `ip`, or null when it may. `spoofable`: the detection's only evidence is a packet
   * whose source address nobody proved (UDP, ICMP, raw IP, a TCP segment without a completed handshake).
   */
  refusal(pb: Playbook, ip: string, spoofable = false): { reason: string; cuts: CutFlow[] } | null {
    const never = neverBlockRefusal(ip, neverBlockOf(this.never));
    if (never !== null) return { reason: never, cuts: [] };
    const cuts = this.cuts(ip);
    if (cuts.length > 0 && !named(pb, ip))
      return {
        reason: `${ip} has ${cuts.length} baseline flow(s); a playbook never cuts learned-normal traffic unless its may_block names the address`,
        cuts,
      };
    // A device the baseline knows without learned IP flows (a PROFINET IO device or GOOSE IED whose cyclic
    // traffic is layer 2, a silent hot-standby partner) is as much the plant as one with flows.
    if (this.assets.has(ip) && !named(pb, ip))
      return {
        reason: `${ip} is a device of the baseline (no learned IP flows); a playbook never blocks a known device unless its may_block names the address`,
        cuts: [],
      };
    // Even named, a known device is blocked only on evidence its address was not borrowed.
    if (spoofable && (this.assets.has(ip) || this.flows.has(ip)))
      return {
        reason: `${ip} is a device of the baseline and the contact's source can be spoofed (no completed TCP handshake): reported, not blocked on it`,
        cuts: [],
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
