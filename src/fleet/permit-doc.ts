/**
 * Fleet permits: temporary access the manager grants and every site (or the sites named) puts into its scoped
 * permit set, as `weir permit-request` does locally — one client, one server in a zone, a protocol, its
 * functions and registers, for at most a working day. The permit's scope is checked the way permit templates
 * are (policy/permit-templates.ts: function names, read-only against write functions, the TTL cap); each site
 * checks the zone against its own policy. The permits document carries every permit in force; a revoke is a
 * new version without it.
 */
import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { AddressRanges, ContextGroup } from '../policy/model.js';
import {
  checkTemplates,
  MAX_PERMIT_TTL,
  permitGroup,
  type PermitTemplate,
  type RawPermitTemplate,
} from '../policy/permit-templates.js';
import { unjudgedLimits } from '../enforce/steer.js';
import { checkSiteName } from './subjects.js';

export interface FleetPermit {
  /** What `weir manager permit revoke` names it by. */
  id: string;
  client: string;
  server: string;
  zone: string;
  protocol: string;
  transport: 'tcp' | 'udp';
  ports: number[];
  functions?: number[];
  addresses?: AddressRanges;
  /** Stations behind the server address (Modbus unit ids, DNP3 link, IEC 104 common addresses; absent: any). */
  units?: number[];
  access: 'read-only' | 'read-write';
  /** Epoch seconds at which it lapses everywhere (a site that applies it late gets what is left). */
  until: number;
  /** The proven person who granted it. */
  grantedBy: string;
  comment: string;
  /** The sites it is for (absent: every site). */
  sites?: string[];
}

export interface PermitsBody {
  permits: FleetPermit[];
}

export interface PermitGrant {
  client: string;
  server: string;
  zone: string;
  protocol: string;
  ports?: number[];
  /** Function codes or names of the protocol. */
  functions?: Array<number | string>;
  /** Per address space, 'lo-hi' or a single address. */
  addresses?: Record<string, Array<number | string>>;
  units?: number[];
  access?: 'read-only' | 'read-write';
  ttlSeconds: number;
  grantedBy: string;
  comment?: string;
  sites?: string[];
}

/** The template a fleet permit amounts to (one client, one server), checked as a policy's templates are. */
function asTemplate(g: PermitGrant | FleetPermit, ttl: number): PermitTemplate {
  const raw: RawPermitTemplate = {
    name: 'fleet-permit',
    directory_groups: ['fleet'],
    zone: g.zone,
    servers: [g.server],
    clients: [g.client],
    protocol: g.protocol,
    ports: 'ports' in g ? g.ports : undefined,
    functions: g.functions,
    addresses:
      g.addresses === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries(g.addresses).map(([k, v]) => [
              k,
              (v as Array<number | string | [number, number]>).map((r) =>
                Array.isArray(r) ? `${r[0]}-${r[1]}` : r,
              ),
            ]),
          ),
    units: g.units,
    access: g.access,
    max_ttl: ttl,
  };
  const errors: string[] = [];
  // The zone is the site's to check (its own address plan); here it stands for the server alone.
  const [t] = checkTemplates(
    [raw],
    { assets: [], zones: [{ name: g.zone, members: [`${g.server}/32`] } as never], windows: [] },
    (p, m) => errors.push(`${p.slice(2).join('.') || 'permit'}: ${m}`),
  );
  if (errors.length > 0) throw new Error(`permit refused: ${errors.join('; ')}`);
  return t!;
}

/** A new fleet permit from what the person asked for, or an Error naming what is wrong with it. */
export function makePermit(g: PermitGrant, nowS: number): FleetPermit {
  if (!isIPv4(g.client))
    throw new Error(`permit refused: client '${g.client}' is not an IPv4 address`);
  if (!isIPv4(g.server))
    throw new Error(`permit refused: server '${g.server}' is not an IPv4 address`);
  if (!Number.isInteger(g.ttlSeconds) || g.ttlSeconds < 1)
    throw new Error('permit refused: a TTL of at least one second');
  if (g.ttlSeconds > MAX_PERMIT_TTL)
    throw new Error(
      `permit refused: a permit lasts at most ${MAX_PERMIT_TTL / 3600} h; longer access is a context group to approve`,
    );
  g.sites?.forEach(checkSiteName);
  const t = asTemplate(g, g.ttlSeconds);
  if (t.ports.length === 0) throw new Error(`permit refused: no port for ${g.protocol}`);
  // A limit nothing can judge would open the whole protocol: refused, as for a policy's templates.
  const unjudged = unjudgedLimits(t);
  if (unjudged !== null) throw new Error(`permit refused: ${unjudged}`);
  return {
    id: randomBytes(6).toString('hex'),
    client: g.client,
    server: g.server,
    zone: g.zone,
    protocol: t.protocol,
    transport: t.transport,
    ports: t.ports,
    functions: t.functions,
    addresses: t.addresses,
    ...(t.units !== undefined ? { units: t.units } : {}),
    access: t.access,
    until: nowS + g.ttlSeconds,
    grantedBy: g.grantedBy,
    comment: g.comment ?? '',
    sites: g.sites,
  };
}

/** The context group a site judges the permitted flow's requests by (the gateway reads it). */
export function fleetPermitGroup(p: FleetPermit): ContextGroup {
  return permitGroup(fleetTemplate(p), p.client, p.server);
}

function fleetTemplate(p: FleetPermit): PermitTemplate {
  return {
    name: `fleet-${p.id}`,
    directoryGroups: ['fleet'],
    zone: p.zone,
    servers: [p.server],
    clients: [p.client],
    protocol: p.protocol,
    transport: p.transport,
    ports: p.ports,
    functions: p.functions,
    addresses: p.addresses,
    ...(p.units !== undefined ? { units: p.units } : {}),
    access: p.access,
    maxTtl: MAX_PERMIT_TTL,
  };
}

/**
 * Is this (from a signed document) a permit a site can apply? The document's signature says the manager
 * sent it, not that the manager's checks ran: a site checks the shape again and re-derives nothing else.
 */
export function permitProblem(p: FleetPermit): string | null {
  if (typeof p?.id !== 'string' || !/^[0-9a-f]{1,32}$/.test(p.id)) return 'no id';
  if (!isIPv4(p.client) || !isIPv4(p.server)) return 'client or server is not an IPv4 address';
  if (p.transport !== 'tcp' && p.transport !== 'udp') return 'no transport';
  if (!Array.isArray(p.ports) || p.ports.some((x) => !Number.isInteger(x) || x < 1 || x > 65535))
    return 'bad ports';
  if (!Number.isSafeInteger(p.until)) return 'no expiry';
  try {
    asTemplate(p, MAX_PERMIT_TTL);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}
