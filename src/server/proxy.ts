import { BlockList, isIP } from 'node:net';

/**
 * The reverse proxy Weir sits behind, named by the operator: only a connection from one of these peers has its
 * X-Forwarded-For believed. Anyone else's header is ignored (a client can write any header it likes).
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly names: readonly string[];

  /** Addresses or CIDR ranges (IPv4 or IPv6); anything else is a clear error. */
  constructor(entries: readonly string[]) {
    const names: string[] = [];
    for (const raw of entries) {
      const e = raw.trim();
      if (e === '') continue;
      const [addr, bits, extra] = e.split('/');
      const family = isIP(addr ?? '');
      const max = family === 4 ? 32 : 128;
      if (family === 0 || extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
        throw new Error(`trusted proxy ${JSON.stringify(e)}: not an IP address or CIDR range`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr!, type);
      else if (Number(bits) > max)
        throw new Error(`trusted proxy ${JSON.stringify(e)}: a /${bits} range is too long`);
      else this.list.addSubnet(addr!, Number(bits), type);
      names.push(e);
    }
    this.names = names;
  }

  /** From the comma-separated setting (server.trusted_proxy) or the repeated flag. */
  static parse(setting: string, flags: readonly string[] = []): TrustedProxies {
    if (flags.length > 0) return new TrustedProxies(flags);
    try {
      return new TrustedProxies(setting.split(','));
    } catch (err) {
      throw new Error(`settings server.trusted_proxy: ${(err as Error).message}`);
    }
  }

  get any(): boolean {
    return this.names.length > 0;
  }

  /** Whether the peer at this address (as the socket reports it, IPv4-mapped IPv6 included) is the proxy. */
  has(address: string | undefined): boolean {
    if (!address || !this.any) return false;
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (v4) return this.list.check(v4[1]!, 'ipv4');
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
