import { functionCode, functionCodeCategory, serverPorts } from '../dissect/registry.js';
import { HostSet, parseCidr } from './hosts.js';
import type { AddressRanges, ContextGroup, PermitTemplate, Policy } from './model.js';
import { HOST_LIST, NAME as name, PROTOCOL_SCOPE } from './schema-parts.js';
import { unitsProblem } from './units.js';

export type { PermitTemplate };

/** The shape of one `permit_templates:` entry (JSON Schema for ajv; meaning is checked by checkTemplates). */
export const PERMIT_TEMPLATES_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'directory_groups', 'zone', 'servers', 'protocol', 'max_ttl'],
    properties: {
      name,
      description: { type: 'string' },
      directory_groups: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', minLength: 1, maxLength: 512 },
      },
      zone: { type: 'string' },
      servers: HOST_LIST,
      clients: HOST_LIST,
      ...PROTOCOL_SCOPE,
      max_ttl: {
        anyOf: [
          { type: 'integer', minimum: 1 },
          { type: 'string', pattern: '^[0-9]+[smhd]$' },
        ],
      },
      windows: { type: 'array', minItems: 1, items: { type: 'string' } },
    },
  },
} as const;

export interface RawPermitTemplate {
  name: string;
  description?: string;
  directory_groups: string[];
  zone: string;
  servers: string[];
  clients?: string[];
  protocol: string;
  ports?: number[];
  functions?: Array<number | string>;
  addresses?: Record<string, Array<number | string>>;
  units?: number[];
  access?: 'read-only' | 'read-write';
  max_ttl: number | string;
  windows?: string[];
}

/** A permit never outlasts a working day: longer is a context group to approve, not a permit. */
export const MAX_PERMIT_TTL = 12 * 3600;

/** Check templates against the rest of the (already checked) policy; each problem goes to `err`. */
export function checkTemplates(
  raw: RawPermitTemplate[],
  p: Pick<Policy, 'assets' | 'zones' | 'windows'>,
  err: (path: Array<string | number>, message: string) => void,
): PermitTemplate[] {
  const assetIp = new Map(p.assets.map((a) => [a.name, a.ip]));
  const seen = new Set<string>();
  return raw.map((t, i) => {
    const at = (...rest: Array<string | number>): Array<string | number> => [
      'permit_templates',
      i,
      ...rest,
    ];
    if (seen.has(t.name)) err(at('name'), `a second permit template named '${t.name}'`);
    seen.add(t.name);
    const zone = p.zones.find((z) => z.name === t.zone);
    if (zone === undefined) err(at('zone'), `no zone named '${t.zone}'`);
    const zoneSet = new HostSet();
    for (const m of zone?.members ?? []) {
      const c = parseCidr(m);
      if (c !== null) zoneSet.add(c);
    }
    t.servers.forEach((s, j) => {
      const c = parseCidr(assetIp.get(s) ?? s);
      if (c === null || c.prefix !== (c.family === 'ipv4' ? 32 : 128))
        err(at('servers', j), `'${s}' is not an address or a named asset`);
      else if (c.family !== 'ipv4')
        err(at('servers', j), `'${s}': permits are enforced for IPv4 servers only`);
      else if (zone !== undefined && !zoneSet.has(c.address))
        err(at('servers', j), `'${s}' is not in zone '${t.zone}'`);
    });
    t.clients?.forEach((c, j) => {
      if (
        parseCidr(assetIp.get(c) ?? c) === null &&
        !p.zones.some((z) => z.name === c) &&
        !assetIp.has(c)
      )
        err(at('clients', j), `'${c}' is not an address, a CIDR block, a named asset or a zone`);
    });
    const known = serverPorts[t.protocol];
    if (known === undefined)
      err(
        at('protocol'),
        `unknown protocol '${t.protocol}' (one of ${Object.keys(serverPorts).join(', ')})`,
      );
    const access = t.access ?? 'read-only';
    const functions = t.functions?.map((f, j) => {
      const code =
        typeof f === 'number' ? f : /^[0-9]+$/.test(f) ? Number(f) : functionCode(t.protocol, f);
      if (code === undefined) {
        err(at('functions', j), `'${f}' is not a ${t.protocol} function`);
        return -1;
      }
      const cat = known !== undefined ? functionCodeCategory(t.protocol, code) : 'read';
      if (
        access === 'read-only' &&
        (cat === 'write' || cat === 'control' || cat === 'program' || cat === 'config')
      )
        err(
          at('functions', j),
          `${f} is a ${cat} function, but the template is read-only: set \`access: read-write\` or remove it`,
        );
      return code;
    });
    let addresses: AddressRanges | undefined;
    if (t.addresses !== undefined) {
      addresses = {};
      for (const [space, list] of Object.entries(t.addresses))
        addresses[space] = list.map((a, j) => {
          const [lo, hi] =
            typeof a === 'number' ? [a, a] : (a.split('-').map(Number) as [number, number?]);
          if ((hi ?? lo) < lo) err(at('addresses', space, j), `range ${a} runs backwards`);
          return [lo, hi ?? lo] as [number, number];
        });
    }
    if (t.units !== undefined) {
      const bad = unitsProblem(t.protocol, t.units);
      if (bad !== null) err(bad.at !== undefined ? at('units', bad.at) : at('units'), bad.why);
    }
    const names = new Set(p.windows.map((w) => w.name));
    t.windows?.forEach((w, j) => {
      if (!names.has(w)) err(at('windows', j), `no window named '${w}'`);
    });
    const maxTtl = ttlSeconds(t.max_ttl);
    if (maxTtl > MAX_PERMIT_TTL)
      err(
        at('max_ttl'),
        `a permit lasts at most ${MAX_PERMIT_TTL / 3600} h; longer access is a context group to approve`,
      );
    return {
      name: t.name,
      description: t.description,
      directoryGroups: t.directory_groups,
      zone: t.zone,
      servers: t.servers.map((s) => assetIp.get(s) ?? s),
      clients: t.clients?.map((c) => assetIp.get(c) ?? c),
      protocol: t.protocol,
      transport: known?.transport ?? 'tcp',
      ports: t.ports ?? known?.ports ?? [],
      functions: functions?.filter((f) => f >= 0),
      addresses,
      ...(t.units !== undefined ? { units: [...new Set(t.units)] } : {}),
      access,
      maxTtl,
      windows: t.windows,
    };
  });
}

function ttlSeconds(d: number | string): number {
  if (typeof d === 'number') return d;
  const n = Number(d.slice(0, -1));
  return n * { s: 1, m: 60, h: 3600, d: 86400 }[d.at(-1) as 's' | 'm' | 'h' | 'd'];
}

/**
 * The context group a permit amounts to: this client, the template's servers and ports, functions and
 * registers, its windows. The simulator and the gateway judge traffic of a permitted flow by it.
 */
export function permitGroup(t: PermitTemplate, client: string, server: string): ContextGroup {
  return {
    name: `permit:${t.name}`,
    description: t.description,
    clients: [client],
    servers: [server],
    transport: t.transport,
    ports: t.ports,
    protocol: t.protocol,
    functions: t.functions,
    addresses: t.addresses,
    ...(t.units !== undefined ? { units: t.units } : {}),
    access: t.access,
    windows: t.windows,
  };
}

/**
 * Warnings about templates that load but may vouch for more people than meant: a directory group named by its
 * CN alone matches that CN in any OU (whoever may create groups in some OU can make one), so it is named here
 * with the DN to use instead. RADIUS answers plain values (Class, Filter-Id): there a name is all there is.
 */
export function templateWarnings(p: Pick<Policy, 'permitTemplates'>): string[] {
  const out: string[] = [];
  (p.permitTemplates ?? []).forEach((t, i) =>
    t.directoryGroups.forEach((g, j) => {
      if (g.includes('=')) return;
      out.push(
        `permit_templates[${i}] (${t.name}).directory_groups[${j}]: '${g}' names a group by its CN alone, so a group of that name in any OU vouches: ` +
          `name it by its DN (e.g. "cn=${g},ou=groups,dc=plant,dc=local"), unless it is a RADIUS Class or Filter-Id value, which has none`,
      );
    }),
  );
  return out;
}
