import { isIP } from 'node:net';
import type { CompiledGroup } from '../../policy/evaluate.js';
import { networkOf } from '../../policy/hosts.js';

/** One spelling per address (IPv6 written many ways), so that a named address is found however it is written. */
const canonical = (ip: string): string =>
  isIP(ip) === 6 ? networkOf({ address: ip, prefix: 128, family: 'ipv6' }) : ip;

/**
 * Whether one of the groups that admit a flow names its client by the client's own address (a /32 or /128), not
 * only by a range it falls in: a SCADA server or historian the plant's engineers wrote into the policy, as opposed
 * to any address of an HMI subnet — which anyone with a cable in that subnet can take.
 */
export function namesClient(groups: readonly CompiledGroup[], clientIp: string): boolean {
  const ip = canonical(clientIp);
  for (const g of groups)
    for (const b of g.clients.blocks)
      if (b.prefix === (b.family === 'ipv4' ? 32 : 128) && canonical(b.address) === ip) return true;
  return false;
}
