import { isIPv4 } from 'node:net';
import { TABLE } from './nft-ruleset.js';
import { listPermits, type NftTarget } from './nft.js';
import type { NftFamily } from './nft-ruleset.js';
import { readApplied } from './state.js';
import { NftSession } from './nft-session.js';
import type { PlaybookKernel, TemporaryPermit } from '../respond/playbook-kernel.js';

/**
 * The enforcement host's side of playbooks: the blocklist and the permits of Weir's nftables table, written
 * through one persistent nft process. This is the one place to point at another enforcement backend.
 */
export function nftPlaybookKernel(target: NftTarget): PlaybookKernel & { close(): void } {
  const nft = new NftSession(target);
  // Start nft now, so the first block does not wait for it to start.
  void nft.run('list tables').catch(() => undefined);
  const set = (name: string): string => `${target.family} ${TABLE} ${name}`;
  const ipv4 = (a: string): string => {
    if (!isIPv4(a)) throw new Error(`'${a}' is not an IPv4 address`);
    return a;
  };
  const flow = (p: TemporaryPermit): string => {
    if (!/^[0-9]{1,5}$/.test(String(p.port)) || (p.transport !== 'tcp' && p.transport !== 'udp'))
      throw new Error('bad permit');
    return `${ipv4(p.client)} . ${ipv4(p.server)} . ${p.transport} . ${p.port}`;
  };
  const ttl = (s: number): number => Math.max(1, Math.floor(s));
  return {
    async block(address, ttlSeconds) {
      await nft.run(
        `add element ${set('blocklist')} { ${ipv4(address)} timeout ${ttl(ttlSeconds)}s }`,
      );
    },
    async unblock(address) {
      await nft.run(`delete element ${set('blocklist')} { ${ipv4(address)} }`);
    },
    async permits() {
      return listPermits(target);
    },
    async revokePermit(p) {
      await nft.run(`delete element ${set('permits')} { ${flow(p)} }`);
    },
    async restorePermit(p, ttlSeconds) {
      await nft.run(`add element ${set('permits')} { ${flow(p)} timeout ${ttl(ttlSeconds)}s }`);
    },
    close: () => nft.close(),
  };
}

/** Where the kernel side of the playbooks lives: as given, else as `enforce apply` loaded it (else bridge). */
export function playbookTarget(o: {
  stateDir: string;
  family?: string;
  netns?: string;
}): NftTarget {
  const applied = readApplied(o.stateDir);
  const family = o.family ?? applied?.family ?? 'bridge';
  if (family !== 'bridge' && family !== 'inet') throw new Error('--family is bridge or inet');
  return { family: family as NftFamily, netns: o.netns ?? applied?.netns };
}
