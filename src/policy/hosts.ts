import { BlockList, isIP } from 'node:net';

/** An address or CIDR block from a policy file. */
export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parse '10.1.2.0/24', '10.1.2.3' or 'fd00::/8'; null when it is neither an address nor a block. */
export function parseCidr(spec: string): Cidr | null {
  const slash = spec.indexOf('/');
  const address = slash < 0 ? spec : spec.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return null;
  const max = v === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = spec.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return null;
    prefix = Number(p);
  }
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** A set of addresses made of blocks; membership by the kernel-style prefix match of node:net's BlockList. */
export class HostSet {
  private readonly list = new BlockList();
  readonly blocks: Cidr[] = [];

  add(c: Cidr): void {
    this.list.addSubnet(c.address, c.prefix, c.family);
    this.blocks.push(c);
  }

  has(ip: string): boolean {
    const v = isIP(ip);
    return v !== 0 && this.list.check(ip, v === 4 ? 'ipv4' : 'ipv6');
  }

  /** True when some block of this set shares an address with some block of the other. */
  overlaps(other: HostSet): boolean {
    // Two prefix blocks overlap exactly when one contains the other's first address.
    return (
      this.blocks.some((b) => other.list.check(networkOf(b), b.family)) ||
      other.blocks.some((b) => this.list.check(networkOf(b), b.family))
    );
  }
}

export const ipv4ToInt = (s: string): number =>
  s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
export const intToIpv4 = (n: number): string =>
  [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** First and last address of an IPv4 block, as numbers. */
export function ipv4Span(c: Cidr): { lo: number; hi: number } {
  const n = ipv4ToInt(c.address),
    size = 2 ** (32 - c.prefix);
  const lo = n - (n % size);
  return { lo, hi: lo + size - 1 };
}

/** First address of a block (the address with host bits cleared). */
export function networkOf(c: Cidr): string {
  if (c.family === 'ipv4') return intToIpv4(ipv4Span(c).lo);
  const words = expandIpv6(c.address);
  let bits = c.prefix;
  const out = words.map((w) => {
    const keep = Math.max(0, Math.min(16, bits));
    bits -= 16;
    return keep === 0 ? 0 : w & (0xffff << (16 - keep)) & 0xffff;
  });
  return out.map((w) => w.toString(16)).join(':');
}

function expandIpv6(a: string): number[] {
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const parts = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return parts.map((p) => parseInt(p, 16) || 0);
}

/**
 * A host address in the one spelling nftables lists back (IPv6 compressed, lower case), or null when it is not a
 * plain IPv4 or IPv6 address (a zone id, a prefix, an IPv4-mapped IPv6 address — block the IPv4 address instead).
 */
export function canonicalIp(a: string): string | null {
  const v = isIP(a);
  if (v === 4) return a;
  if (v !== 6 || a.includes('%') || /^::ffff:/i.test(a) || /\./.test(a)) return null;
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

/**
 * Whether an address names one unicast host: not unspecified or "this network" (0/8), loopback, link-local
 * (169.254/16, fe80::/10), multicast, reserved or broadcast.
 */
export function isUnicastHost(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) {
    const [first, second] = ip.split('.').map(Number) as [number, number];
    // 169.254/16 is what a device falls back to without DHCP (PROFINET and BACnet devices do): blocking it
    // blocks whichever device has the address now, on a link, with nothing routed to tell.
    return first !== 0 && first !== 127 && first < 224 && !(first === 169 && second === 254);
  }
  if (v !== 6) return false;
  const c = canonicalIp(ip);
  // Link-local addresses are how routers and neighbour discovery speak: blocking one cuts a whole link.
  return c !== null && c !== '::' && c !== '::1' && !/^(ff|fe[89ab])/i.test(c);
}
