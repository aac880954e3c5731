import type { Asset, AssetRole, FunctionStats } from './model.js';
import { isIndustrial, isOutstationProtocol, operationOfFunction } from '../dissect/registry.js';

/** A client that opened this many conversations carrying no application data is sweeping ports or hosts. */
const SCAN_PROBES = 16;
/** A probe is a connection attempt: a handful of packets (SYN, RST, maybe a retry) and no dissected protocol. */
const PROBE_PACKETS = 6;

/**
 * What a role is inferred from, of one edge: an Edge record has it all, and the inventory's read-out passes a
 * view of its compact edge state instead of building the record for each end's role (see read-out.ts).
 * `functions` (in record order) and `pollInterval` are read only for the edges an asset used as an industrial
 * client, so a view can compute them when asked.
 */
export interface RoleEdge {
  readonly client: string;
  readonly server: string;
  readonly transport: string;
  readonly port: number;
  readonly protocol: string;
  readonly protocols: readonly string[];
  readonly packets: number;
  readonly requests: number;
  readonly responses: number;
  readonly functions: readonly FunctionStats[];
  readonly pollInterval: number | null;
}

/** Infer each asset's role from its identity and behaviour, with the reasons in plain words. Mutates assets. */
export function inferRoles(assets: Asset[], edges: readonly RoleEdge[]): void {
  const asClient = new Map<string, RoleEdge[]>(),
    asServer = new Map<string, RoleEdge[]>();
  for (const e of edges) {
    push(asClient, e.client, e);
    push(asServer, e.server, e);
  }
  for (const a of assets) {
    const cl = a.ips.flatMap((ip) => asClient.get(ip) ?? []);
    const sv = a.ips.flatMap((ip) => asServer.get(ip) ?? []);
    roleOf(a, cl, sv);
  }
}

/**
 * One asset's role from the edges it was the client of and those it served, each list in the inventory's edge
 * order (the reasons name servers and functions in that order). Mutates the asset.
 */
export function roleOf(a: Asset, client: readonly RoleEdge[], server: readonly RoleEdge[]): void {
  const [role, reasons] = decide(a, client, server);
  a.role = role;
  a.roleReasons = reasons;
}

function decide(
  a: Asset,
  client: readonly RoleEdge[],
  server: readonly RoleEdge[],
): [AssetRole, string[]] {
  const dt = (a.identity.deviceType ?? '').toLowerCase();
  if (/programmable logic controller|io-controller|\bplc\b|\bcpu\b/.test(dt))
    return ['plc', [`device reports type "${a.identity.deviceType}"`]];
  if (/human.machine|\bhmi\b|operator (panel|interface)/.test(dt))
    return ['hmi', [`device reports type "${a.identity.deviceType}"`]];
  if (/adapter|i\/o|io-device|drive/.test(dt))
    return ['io_device', [`device reports type "${a.identity.deviceType}"`]];

  const served = server.filter(
    (e) => isIndustrial(e.protocol) && e.responses + e.requests > 0 && e.server !== e.client,
  );
  const servedProtos = uniq(served.map((e) => e.protocol));
  const used = client.filter((e) => isIndustrial(e.protocol) && e.requests > 0);
  // What the client edges did, computed only where a rule reads it (most assets serve or speak BACnet only).
  const engineeringOf = (): string[] => {
    const engineering: string[] = [];
    for (const e of used) {
      for (const f of e.functions) {
        // Functions that program, configure or probe a controller rather than run the process: the signature
        // of an engineering workstation (the protocols' engineering operations, file housekeeping included).
        if (f.count > 0 && operationOfFunction(f.protocol, f.func) !== undefined)
          engineering.push(`${f.name || `${f.protocol} ${f.func}`} to ${e.server}`);
      }
    }
    return engineering;
  };
  const writesOf = (): number =>
    used.reduce((n, e) => n + e.functions.reduce((m, f) => m + f.writes, 0), 0);

  if (servedProtos.length > 0 && !servedProtos.every((p) => p === 'bacnet')) {
    const clients = uniq(served.map((e) => e.client));
    const outstation = servedProtos.some(isOutstationProtocol);
    const reason = `serves ${servedProtos.join(', ')} to ${clients.length} client${clients.length === 1 ? '' : 's'}`;
    if (
      outstation &&
      !servedProtos.some((p) => p === 's7comm' || p === 'modbus' || p === 'enip' || p === 'cip')
    ) {
      return ['rtu', [reason]];
    }
    return ['plc', [reason]];
  }
  const scan = scanReason(client);
  if (scan !== null) {
    const engineering = engineeringOf(),
      writes = writesOf();
    // A real engineering workstation does not sweep the network; what else it did stays among the reasons.
    const also = [
      ...(engineering.length > 0
        ? [`also issued ${uniq(engineering).slice(0, 4).join('; ')}`]
        : []),
      ...(writes > 0
        ? [
            `${writes} write${writes === 1 ? '' : 's'} to ${uniq(used.map((e) => e.server)).join(', ')}`,
          ]
        : []),
    ];
    return ['scanner', [scan, ...also]];
  }
  if (
    dt.includes('bacnet') ||
    servedProtos.includes('bacnet') ||
    (a.uses.includes('bacnet') && used.length === 0)
  ) {
    return ['bacnet_device', ['speaks BACnet/IP']];
  }
  if (used.length > 0) {
    const engineering = engineeringOf(),
      writes = writesOf();
    const servers = uniq(used.map((e) => e.server));
    if (engineering.length > 0)
      return [
        'engineering_workstation',
        [`issued engineering functions: ${uniq(engineering).slice(0, 4).join('; ')}`],
      ];
    if (used.some((e) => isOutstationProtocol(e.protocol)))
      return [
        'scada_server',
        [`master station for ${servers.length} outstation${servers.length === 1 ? '' : 's'}`],
      ];
    // Requests first: a view computes the polling period only when asked.
    const polled = used.filter((e) => e.requests >= 10 && e.pollInterval !== null);
    if (polled.length > 0) {
      const fastest = Math.min(...polled.map((e) => e.pollInterval!));
      const every = `polls ${polled.length} server${polled.length === 1 ? '' : 's'} (fastest every ${fastest.toFixed(3)} s)`;
      if (writes > 0 || fastest < 1)
        return [
          'hmi',
          [every, writes > 0 ? `${writes} write${writes === 1 ? '' : 's'}` : 'sub-second polling'],
        ];
      return ['historian', [every, 'reads only, slow periodic polling']];
    }
    // Writes alone do not make an engineering workstation: that takes program, configuration or identity work.
    if (writes > 0)
      return [
        'unknown',
        [
          `${writes} ad-hoc write${writes === 1 ? '' : 's'} to ${servers.join(', ')} without polling`,
          'no engineering functions (program, configuration, identity reads)',
        ],
      ];
    return ['hmi', [`industrial client of ${servers.join(', ')}`]];
  }
  if (/router|bridge|switch/.test(dt))
    return ['network_device', [`announces capabilities "${a.identity.deviceType}"`]];
  if (
    server.some(
      (e) => e.transport === 'udp' && e.port === 67 && e.packets > 0 && e.server !== '0.0.0.0',
    )
  )
    return ['dhcp_server', ['answers DHCP']];
  if (server.some((e) => e.port === 53 && e.server === a.ips[0]))
    return ['dns_server', ['answers DNS']];
  if (client.length > 0) return ['workstation', ['IT client traffic only']];
  return ['unknown', []];
}

/** Why a client looks like a scanner (ports tried per host, hosts tried), or null. */
function scanReason(client: readonly RoleEdge[]): string | null {
  // Counted first: most clients made no probe, and need no table of them.
  let probes = 0;
  for (const e of client) if (isScanProbe(e)) probes++;
  if (probes < SCAN_PROBES) return null;
  const ports = new Map<string, Set<number>>();
  for (const e of client) {
    if (!isScanProbe(e)) continue;
    let s = ports.get(e.server);
    if (s === undefined) ports.set(e.server, (s = new Set()));
    s.add(e.port);
  }
  const hosts = [...ports.entries()].sort((x, y) => y[1].size - x[1].size);
  const [top, set] = hosts[0]!;
  return hosts.length === 1 || set.size >= SCAN_PROBES
    ? `tried ${set.size} ports on ${top}${hosts.length > 1 ? ` and ${hosts.length - 1} other host${hosts.length === 2 ? '' : 's'}` : ''} (connection attempts only)`
    : `tried ${hosts.length} hosts (connection attempts only)`;
}

function isScanProbe(e: RoleEdge): boolean {
  return e.transport !== 'ip' && e.protocols.length === 0 && e.packets <= PROBE_PACKETS;
}

function push(m: Map<string, RoleEdge[]>, k: string, e: RoleEdge): void {
  const l = m.get(k);
  if (l) l.push(e);
  else m.set(k, [e]);
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
