import { isIP } from 'node:net';
import type { HostSet } from './hosts.js';
import type { DecoyService, DecoySet } from './decoy-model.js';
import type { Path } from './shape-prune.js';

/** The `decoys:` section as written. */
export interface RawDecoySet {
  name: string;
  zone: string;
  clone?: string[];
  services?: DecoyService[];
  addresses: string[];
  active?: number;
  rotate?: { every?: number | string; windows?: string[] };
}

export interface DecoyCheckContext {
  err(at: Path, message: string): void;
  assetIps: ReadonlyMap<string, string>;
  zoneSets: ReadonlyMap<string, HostSet>;
  windows: ReadonlySet<string>;
  known(section: 'zones' | 'windows'): string;
  duration(d: number | string): number;
}

/** Every service unless the set names some: a decoy that answers more gets touched more. */
const ALL_SERVICES: DecoyService[] = ['modbus', 's7comm', 'enip', 'bacnet', 'http'];

/**
 * Decoy sets: their zone exists, their addresses lie in it and are no named asset's, no address serves two
 * sets, the clones are devices of the zone. Whether a baseline flow uses an address is checked against the
 * baseline when the decoys start (deceive/placement.ts): the policy file alone does not know the traffic.
 */
export function checkDecoys(raw: RawDecoySet[], c: DecoyCheckContext): DecoySet[] {
  const names = new Set<string>();
  const taken = new Map<string, string>();
  const assetByIp = new Map([...c.assetIps].map(([n, ip]) => [ip, n]));
  return raw.map((d, i) => {
    const at: Path = ['decoys', i];
    if (names.has(d.name)) c.err([...at, 'name'], `'${d.name}' is defined twice in decoys`);
    names.add(d.name);
    const zone = c.zoneSets.get(d.zone);
    if (zone === undefined) c.err([...at, 'zone'], `no zone named '${d.zone}'${c.known('zones')}`);
    const pool: string[] = [];
    d.addresses.forEach((a, j) => {
      const where: Path = [...at, 'addresses', j];
      if (isIP(a) === 0)
        return c.err(where, `'${a}' is not an IP address (a decoy sits on one address)`);
      if (assetByIp.has(a))
        return c.err(
          where,
          `${a} is asset '${assetByIp.get(a)}': a decoy takes an unused address only`,
        );
      if (zone !== undefined && !zone.has(a))
        return c.err(where, `${a} is not in zone '${d.zone}': a decoy sits inside its zone`);
      const other = taken.get(a);
      if (other !== undefined)
        return c.err(where, `${a} is already an address of decoy set '${other}'`);
      taken.set(a, d.name);
      pool.push(a);
    });
    const clone: string[] = [];
    (d.clone ?? []).forEach((n, j) => {
      const ip = c.assetIps.get(n) ?? n;
      if (isIP(ip) === 0)
        return c.err([...at, 'clone', j], `'${n}' is neither a named asset nor an address`);
      if (zone !== undefined && !zone.has(ip))
        return c.err(
          [...at, 'clone', j],
          `${n} is not in zone '${d.zone}': decoys clone devices of their own zone`,
        );
      clone.push(ip);
    });
    const active = d.active ?? 1;
    if (active > d.addresses.length)
      c.err(
        [...at, 'active'],
        `${active} decoys at once need at least as many addresses (${d.addresses.length} given)`,
      );
    let rotate: DecoySet['rotate'];
    if (d.rotate !== undefined) {
      rotate = {};
      if (d.rotate.every !== undefined) {
        const every = c.duration(d.rotate.every);
        if (every < 60) c.err([...at, 'rotate', 'every'], 'decoys move at most once a minute');
        rotate.every = every;
      }
      if (d.rotate.windows !== undefined) {
        d.rotate.windows.forEach((w, j) => {
          if (!c.windows.has(w))
            c.err([...at, 'rotate', 'windows', j], `no window named '${w}'${c.known('windows')}`);
        });
        rotate.windows = d.rotate.windows;
      }
    }
    return {
      name: d.name,
      zone: d.zone,
      clone,
      services: d.services ?? ALL_SERVICES,
      pool,
      active: Math.min(active, Math.max(1, pool.length)),
      ...(rotate !== undefined ? { rotate } : {}),
    };
  });
}
