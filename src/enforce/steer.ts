import type { CompiledPolicy } from '../policy/evaluate.js';
import type { SteerTarget } from './nft-ruleset.js';

/** Protocols the gateway can check request by request. */
export const GATEWAY_PROTOCOLS: Record<string, string> = { modbus: 'modbus', s7comm: 's7comm', dnp3: 'dnp3', enip: 'enip', cip: 'enip' };

export interface GatewayTarget extends SteerTarget {
  /** Stream dissector that frames and reads this server's PDUs. */
  protocol: string;
}

/**
 * Servers whose traffic goes through the gateway: every single-address server of a group, in a zone that
 * enforces, that names an industrial protocol the gateway reads. The same policy gives the same ports, so the
 * nftables steering and the gateway agree without talking to each other.
 */
export function gatewayTargets(cp: CompiledPolicy, listenIp: string, basePort = 15000): GatewayTarget[] {
  const seen = new Map<string, string>();
  for (const c of cp.groups) {
    const protocol = c.g.protocol !== undefined ? GATEWAY_PROTOCOLS[c.g.protocol] : undefined;
    if (protocol === undefined || c.g.transport !== 'tcp') continue;
    for (const b of c.servers.blocks) {
      if (b.family !== 'ipv4' || b.prefix !== 32 || cp.zoneOf(b.address)?.mode !== 'enforce') continue;
      for (const port of c.ports) seen.set(`${b.address}:${port}`, protocol);
    }
  }
  return [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([k, protocol], i) => {
    const [server, port] = k.split(':') as [string, string];
    return { server, port: Number(port), protocol, listenIp, listenPort: basePort + i };
  });
}
