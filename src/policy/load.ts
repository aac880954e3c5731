import { closeSync, openSync, readSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import jsYaml from 'js-yaml';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import {
  functionCode,
  functionCodeCategory,
  functionLabel,
  namedProtocols,
  serverPorts,
} from '../dissect/registry.js';
import type { PolicyError } from './errors.js';
import { fieldName, offsetOf, suggestion } from '../settings/yaml-errors.js';
import { HostSet, parseCidr } from './hosts.js';
import type {
  AddressRanges,
  ApproverRole,
  ContextGroup,
  Policy,
  TimeWindow,
  Weekday,
  Zone,
  ZoneMode,
} from './model.js';
import { POLICY_SCHEMA } from './schema.js';
import { checkDecoys, type RawDecoySet } from './decoy-check.js';
import { checkTemplates, type RawPermitTemplate } from './permit-templates.js';
import type {
  Playbook,
  PlaybookActionKind,
  PlaybookMode,
  PlaybookTrigger,
} from './playbook-model.js';
import type { Severity } from '../detect/detection.js';
import { errorPath, pruneToShape, type Path, type Pruned } from './shape-prune.js';
import { unitsProblem } from './units.js';

/** An Ethernet address as policies write it. */
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Server port and transport of each industrial protocol, used when a group names a protocol but no ports. */
export const PROTOCOL_PORTS = serverPorts;

/** Address spaces with a fixed set of names (others, like S7 data blocks or DNP3 groups, are open-ended). */
const KNOWN_SPACES: Record<string, RegExp> = {
  modbus: /^(coil|discrete_input|holding_register|input_register|fifo|file_[0-9]+)$/,
};

const DEFAULT_APPROVALS: ApproverRole[] = ['security', 'engineering', 'operations'];
/** Default evidence before enforce: a week of traffic, so weekly jobs (backups, reports) are in it. */
const DEFAULT_SIMULATION_WINDOW = 7 * 86400;
/** A plant of ten thousand flows writes a few MiB; far beyond that is not a policy. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

export type LoadResult = { ok: true; policy: Policy } | { ok: false; errors: PolicyError[] };

/**
 * A policy file's text, read with a bound: a device (/dev/zero), a pipe or a huge file never makes Weir read
 * without end. Throws a clear error past `maxBytes` (the loader's own size limit by default).
 */
export function readPolicyText(file: string, maxBytes = MAX_FILE_BYTES): string {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes)
        throw new Error(`${file} is larger than ${maxBytes} bytes: not a policy`);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The schema is compiled when a policy is first parsed, not when this module loads: every command that merely
 * imports policy code (discover, through the zone traffic series) paid ~0.1 s of CPU for it at start-up.
 */
let shapeValidator: ValidateFunction | null = null;
function validatorOfShape(): ValidateFunction {
  return (shapeValidator ??= new Ajv({
    allErrors: true,
    strict: true,
    allowUnionTypes: true,
    verbose: true,
  }).compile(POLICY_SCHEMA));
}

/** Parse and check a policy file's text. Every problem found is returned, each with file, line and field. */
export function parsePolicy(text: string, file: string): LoadResult {
  if (Buffer.byteLength(text, 'utf8') > MAX_FILE_BYTES)
    return fail([
      {
        file,
        line: 1,
        column: 1,
        field: '',
        message: `file is larger than ${MAX_FILE_BYTES} bytes`,
      },
    ]);
  try {
    return parseChecked(text, file);
  } catch (err) {
    // The YAML parsers and the validator recurse per nesting level; absurd nesting exhausts the stack.
    if (err instanceof RangeError)
      return fail([
        {
          file,
          line: deepestLine(text),
          column: 1,
          field: '',
          message: 'the document nests too deeply',
        },
      ]);
    throw err;
  }
}

function parseChecked(text: string, file: string): LoadResult {
  // Fast path: a sound file is read by js-yaml (several times faster on large policies). Anything it cannot
  // read, and any file that uses anchors or aliases, goes through the \`yaml\` Document, whose errors carry positions.
  let raw = /(^|[\s[{,])[&*][^\s]/m.test(text) ? undefined : fastLoad(text);
  let parsed: { doc: Document; lc: LineCounter } | null = null;
  const full = (): { doc: Document; lc: LineCounter } => {
    if (parsed === null) {
      const lc = new LineCounter();
      parsed = {
        doc: parseDocument(text, {
          lineCounter: lc,
          uniqueKeys: true,
          prettyErrors: false,
          strict: true,
        }),
        lc,
      };
    }
    return parsed;
  };
  const at = (offset: number): { line: number; column: number } => {
    const p = full().lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (raw === undefined) {
    const doc = full().doc;
    if (doc.errors.length > 0) {
      return fail(
        doc.errors.map((e) => {
          const message = e.message.split('\n')[0]!;
          // The parser notices an unclosed bracket where the next thing starts; point at the bracket itself.
          const close = /end with a ([\]}])/.exec(message)?.[1];
          const offset =
            close !== undefined
              ? openingBracket(text, e.pos[0], close === ']' ? '[' : '{', close)
              : e.pos[0];
          // Only a duplicate key sits in an otherwise sound tree; elsewhere the tree around the error is debris.
          const field = e.code === 'DUPLICATE_KEY' ? fieldName(pathAt(doc.contents, offset)) : '';
          return { file, ...at(offset), field, message };
        }),
      );
    }
    try {
      raw = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      return fail([{ file, line: 1, column: 1, field: '', message: (err as Error).message }]);
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail([
      {
        file,
        line: 1,
        column: 1,
        field: '',
        message: 'a policy is a mapping with `weir: policy/1` and `zones:`',
      },
    ]);
  }
  const place = (path: Array<string | number>, key = false): { line: number; column: number } =>
    at(offsetOf(full().doc, path, key));
  const validateShape = validatorOfShape();
  if (!validateShape(raw)) {
    // Branches of an anyOf each report their own failure; the anyOf's own error says it better.
    const relevant = (e: ErrorObject): boolean => !/\/anyOf\/[0-9]+\//.test(e.schemaPath);
    const errors = dedupe(
      (validateShape.errors ?? []).filter(relevant).map((e) => shapeError(e, file, place)),
    );
    // Shape errors do not hide the rest: the meaning of everything that has the right shape (unknown zones,
    // assets, functions, …) is checked in the same run, so one round of fixes is enough.
    const pruned = pruneToShape(raw, validateShape, relevant);
    const meaning =
      pruned === null ? null : new Checker(pruned.raw as RawPolicy, file, place, pruned).run();
    if (meaning !== null && !meaning.ok) errors.push(...meaning.errors);
    return fail(errors.sort(byPlace));
  }
  return new Checker(raw as RawPolicy, file, place).run();
}

/** js-yaml with the YAML 1.2 core schema (no timestamps: "2026-01-01" stays a string), or undefined on any error. */
function fastLoad(text: string): unknown {
  try {
    return jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
}

function fail(errors: PolicyError[]): LoadResult {
  return { ok: false, errors };
}

// ---- shape errors ---------------------------------------------------------------------------------------

function shapeError(
  e: ErrorObject,
  file: string,
  place: (p: Array<string | number>, key?: boolean) => { line: number; column: number },
): PolicyError {
  const path = errorPath(e);
  let message = e.message ?? 'is invalid';
  let where = place(path);
  let field = fieldName(path);
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    where = place([...path, extra], true);
    field = fieldName([...path, extra]);
    message = `unknown field${suggestion(extra, e.parentSchema)}`;
  } else if (e.keyword === 'required') {
    message = `missing required field '${(e.params as { missingProperty: string }).missingProperty}'`;
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  } else if (e.keyword === 'const') {
    message = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
  } else if (e.keyword === 'pattern') {
    const last = path.at(-1);
    message =
      last === 'from' || last === 'to'
        ? 'must be a time HH:MM'
        : last === 'simulation_window' || last === 'block_ttl' || last === 'per'
          ? 'must be a duration like 30m, 12h, 7d or 2w'
          : path.includes('addresses')
            ? 'must be an address or a range like 100-199'
            : `must match ${(e.params as { pattern: string }).pattern}`;
  } else if (e.keyword === 'anyOf') {
    const last = path.at(-1);
    message =
      last === 'simulation_window' || last === 'block_ttl' || last === 'per'
        ? 'must be seconds or a duration like 30m, 12h, 7d or 2w'
        : path.includes('addresses')
          ? 'must be an address or a range like 100-199'
          : path.includes('functions')
            ? 'must be a function code or name'
            : 'has the wrong type';
  }
  return { file, ...where, field, message };
}

/** anyOf reports each branch too; keep one error per field, the most specific. */
function dedupe(errors: PolicyError[]): PolicyError[] {
  const byField = new Map<string, PolicyError>();
  for (const e of errors) {
    const prev = byField.get(e.field);
    if (
      prev === undefined ||
      (prev.message.startsWith('must be') && !e.message.startsWith('must be'))
    )
      byField.set(e.field, e);
  }
  return [...byField.values()].sort(byPlace);
}

const byPlace = (a: PolicyError, b: PolicyError): number => a.line - b.line || a.column - b.column;

// ---- meaning ------------------------------------------------------------------------------------------------

interface RawPolicy {
  weir: string;
  site?: string;
  timezone?: string;
  assets?: Array<{ name: string; ip: string; role?: string; mac?: string }>;
  zones: Array<{
    name: string;
    description?: string;
    members: string[];
    security_level?: number;
    mode?: ZoneMode;
    internal?: 'allow' | 'restrict';
    approvals?: ApproverRole[];
    simulation_window?: number | string;
    playbooks?: RawPlaybook[];
    layer2?: {
      engineering?: string[];
      publishers?: string[];
      unknown_ethertypes?: 'log' | 'drop';
    };
  }>;
  conduits?: Array<{ name: string; from: string; to: string; description?: string }>;
  groups?: Array<{
    name: string;
    description?: string;
    conduit?: string;
    clients: string[];
    servers: string[];
    protocol?: string;
    transport?: 'tcp' | 'udp';
    ports?: number[];
    functions?: Array<number | string>;
    addresses?: Record<string, Array<number | string>>;
    units?: number[];
    access?: 'read-only' | 'read-write';
    windows?: string[];
    secured_channels?: 'allow' | 'refuse';
  }>;
  windows?: Array<{ name: string; days: Weekday[]; from: string; to: string; timezone?: string }>;
  decoys?: RawDecoySet[];
  permit_templates?: RawPermitTemplate[];
}

interface RawPlaybook {
  name: string;
  description?: string;
  mode?: PlaybookMode;
  on: PlaybookTrigger[];
  when?: { min_severity?: Severity; source_not_in?: string[]; source_unknown?: boolean };
  actions: PlaybookActionKind[];
  block_ttl?: number | string;
  may_block?: string[];
  rate_limit?: { max: number; per: number | string };
}

/** Defaults of a playbook: a block lasts 15 minutes; at most 10 actions per 10 minutes. */
const DEFAULT_BLOCK_TTL = 15 * 60;
const DEFAULT_RATE_LIMIT = { max: 10, per: 600 };

const WHOLE: Pick<Pruned, 'ghosts' | 'origin'> = {
  ghosts: {
    assets: new Set(),
    zones: new Set(),
    conduits: new Set(),
    groups: new Set(),
    windows: new Set(),
  },
  origin: (p) => p,
};

/**
 * Checks references, addresses, times and protocols of a policy with the right shape — the whole file, or
 * what is left once misshapen parts are cut (`pruned`): names of entries cut out count as defined there, as
 * their own errors already say what is wrong with them.
 */
class Checker {
  private readonly errors: PolicyError[] = [];

  constructor(
    private readonly raw: RawPolicy,
    private readonly file: string,
    private readonly place: (p: Path, key?: boolean) => { line: number; column: number },
    private readonly pruned = WHOLE,
  ) {}

  private err(at: Path, message: string): void {
    const path = this.pruned.origin(at);
    this.errors.push({ file: this.file, ...this.place(path), field: fieldName(path), message });
  }

  private cut(section: 'assets' | 'zones' | 'conduits' | 'windows', name: string): boolean {
    return this.pruned.ghosts[section].has(name);
  }

  run(): LoadResult {
    const r = this.raw;
    const timezone = r.timezone ?? 'UTC';
    if (r.timezone !== undefined && !validTimezone(r.timezone))
      this.err(
        ['timezone'],
        `unknown time zone '${r.timezone}' (use an IANA name such as Europe/Berlin)`,
      );
    const assets = r.assets ?? [];
    this.unique('assets', assets);
    assets.forEach((a, i) => {
      if (parseCidr(a.ip)?.prefix !== (a.ip.includes(':') ? 128 : 32) || a.ip.includes('/'))
        this.err(['assets', i, 'ip'], `'${a.ip}' is not an IP address`);
      if (a.mac !== undefined && !MAC.test(a.mac))
        this.err(['assets', i, 'mac'], `'${a.mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
    });
    const assetIps = new Map(assets.map((a) => [a.name, a.ip]));
    const assetMacs = new Map(assets.map((a) => [a.name, a.mac?.toLowerCase()]));
    /** Layer-2 senders: MACs, or named assets with a MAC. */
    const macList = (list: string[] | undefined, at: Path): string[] =>
      (list ?? []).flatMap((m, j) => {
        if (MAC.test(m)) return [m.toLowerCase()];
        const named = assetMacs.get(m);
        if (named !== undefined) return [named];
        if (!this.cut('assets', m))
          this.err(
            [...at, j],
            assetMacs.has(m)
              ? `asset '${m}' has no mac`
              : `'${m}' is not a MAC address or a named asset`,
          );
        return [];
      });

    this.unique('zones', r.zones);
    const zoneSets = new Map<string, HostSet>();
    const zones: Zone[] = r.zones.map((z, i) => {
      const set = new HostSet();
      z.members.forEach((m, j) => {
        const c = parseCidr(assetIps.get(m) ?? m);
        if (c === null && this.cut('assets', m)) return;
        if (c === null)
          this.err(
            ['zones', i, 'members', j],
            `'${m}' is not an address, a CIDR block or a named asset`,
          );
        else set.add(c);
      });
      for (const [other, os] of zoneSets)
        if (set.blocks.length && set.overlaps(os))
          this.err(
            ['zones', i, 'members'],
            `overlaps zone '${other}': an address must belong to one zone`,
          );
      if (!zoneSets.has(z.name)) zoneSets.set(z.name, set);
      const window =
        z.simulation_window === undefined
          ? DEFAULT_SIMULATION_WINDOW
          : parseDuration(z.simulation_window);
      return {
        name: z.name,
        description: z.description,
        members: z.members.map((m) => assetIps.get(m) ?? m),
        securityLevel: z.security_level,
        mode: z.mode ?? 'observe',
        internal: z.internal ?? 'allow',
        approvals: z.approvals ?? DEFAULT_APPROVALS,
        simulationWindow: window,
        ...(z.playbooks !== undefined ? { playbooks: [] as Playbook[] } : {}),
        ...(z.layer2 !== undefined
          ? {
              layer2: {
                engineering: macList(z.layer2.engineering, ['zones', i, 'layer2', 'engineering']),
                ...(z.layer2.publishers !== undefined
                  ? {
                      publishers: macList(z.layer2.publishers, [
                        'zones',
                        i,
                        'layer2',
                        'publishers',
                      ]),
                    }
                  : {}),
                unknownEthertypes: z.layer2.unknown_ethertypes ?? 'log',
              },
            }
          : {}),
      };
    });
    // Playbooks refer to zones and assets; every zone is known by now.
    r.zones.forEach((z, i) => {
      const out = zones[i]!.playbooks;
      if (z.playbooks === undefined || out === undefined) return;
      this.unique(['zones', i, 'playbooks'], z.playbooks);
      z.playbooks.forEach((pb, j) =>
        out.push(this.playbook(pb, ['zones', i, 'playbooks', j], assetIps, zoneSets)),
      );
    });

    const conduits = r.conduits ?? [];
    this.unique('conduits', conduits);
    conduits.forEach((c, i) => {
      if (!zoneSets.has(c.from) && !this.cut('zones', c.from))
        this.err(['conduits', i, 'from'], `no zone named '${c.from}'${this.known('zones')}`);
      if (!zoneSets.has(c.to) && !this.cut('zones', c.to))
        this.err(['conduits', i, 'to'], `no zone named '${c.to}'${this.known('zones')}`);
      if (c.from === c.to)
        this.err(
          ['conduits', i, 'to'],
          'a conduit joins two different zones; traffic inside a zone needs no conduit',
        );
    });

    const windows: TimeWindow[] = [];
    const rawWindows = r.windows ?? [];
    this.unique('windows', rawWindows);
    rawWindows.forEach((w, i) => {
      const from = minutes(w.from, false),
        to = minutes(w.to, true);
      if (from === null)
        this.err(['windows', i, 'from'], `'${w.from}' is not a time of day (00:00–23:59)`);
      if (to === null)
        this.err(['windows', i, 'to'], `'${w.to}' is not a time of day (00:00–24:00)`);
      if (from !== null && to !== null && from === to)
        this.err(['windows', i, 'to'], 'the window is empty: from and to are the same time');
      const tz = w.timezone ?? timezone;
      if (w.timezone !== undefined && !validTimezone(w.timezone))
        this.err(['windows', i, 'timezone'], `unknown time zone '${w.timezone}'`);
      windows.push({ name: w.name, days: w.days, from: from ?? 0, to: to ?? 0, timezone: tz });
    });

    const groups = (r.groups ?? []).map((g, i) =>
      this.group(
        g,
        i,
        assetIps,
        zoneSets,
        new Set(conduits.map((c) => c.name)),
        new Set(rawWindows.map((w) => w.name)),
      ),
    );
    this.unique('groups', r.groups ?? []);
    const decoys =
      r.decoys === undefined
        ? undefined
        : checkDecoys(r.decoys, {
            err: (at, message) => this.err(at, message),
            assetIps,
            zoneSets,
            windows: new Set(rawWindows.map((w) => w.name)),
            known: (section) => this.known(section),
            duration: parseDuration,
          });
    const permitTemplates =
      r.permit_templates === undefined
        ? undefined
        : checkTemplates(r.permit_templates, { assets, zones, windows }, (p, m) => this.err(p, m));
    if (this.errors.length)
      return fail(this.errors.sort((a, b) => a.line - b.line || a.column - b.column));
    return {
      ok: true,
      policy: {
        site: r.site ?? '',
        timezone,
        assets: assets.map((a) => ({ ...a, ...(a.mac ? { mac: a.mac.toLowerCase() } : {}) })),
        zones,
        conduits: conduits.map((c) => ({ ...c })),
        groups,
        windows,
        ...(decoys !== undefined ? { decoys } : {}),
        ...(permitTemplates !== undefined ? { permitTemplates } : {}),
      },
    };
  }

  private group(
    g: NonNullable<RawPolicy['groups']>[number],
    i: number,
    assetIps: Map<string, string>,
    zoneSets: Map<string, HostSet>,
    conduitNames: Set<string>,
    windowNames: Set<string>,
  ): ContextGroup {
    for (const side of ['clients', 'servers'] as const) {
      g[side].forEach((h, j) => {
        if (
          !assetIps.has(h) &&
          !zoneSets.has(h) &&
          parseCidr(h) === null &&
          !this.cut('assets', h) &&
          !this.cut('zones', h)
        )
          this.err(
            ['groups', i, side, j],
            `'${h}' is not an address, a CIDR block, a named asset or a zone`,
          );
      });
    }
    if (g.conduit !== undefined && !conduitNames.has(g.conduit) && !this.cut('conduits', g.conduit))
      this.err(
        ['groups', i, 'conduit'],
        `no conduit named '${g.conduit}'${this.known('conduits')}`,
      );
    let transport = g.transport,
      ports = g.ports;
    const proto = g.protocol;
    if (proto !== undefined && PROTOCOL_PORTS[proto] === undefined)
      this.err(
        ['groups', i, 'protocol'],
        `unknown protocol '${proto}' (one of ${Object.keys(PROTOCOL_PORTS).join(', ')})`,
      );
    const known = proto !== undefined ? PROTOCOL_PORTS[proto] : undefined;
    transport ??= known?.transport ?? 'tcp';
    if (ports === undefined) {
      if (known === undefined)
        this.err(['groups', i], 'needs `ports:` (or a `protocol:` whose ports are known)');
      ports = known?.ports ?? [];
    }
    let functions: number[] | undefined;
    if (g.functions !== undefined) {
      if (proto === undefined)
        this.err(['groups', i, 'functions'], "functions need the group's `protocol:`");
      functions = [];
      g.functions.forEach((f, j) => {
        if (typeof f === 'number') {
          functions!.push(f);
          return;
        }
        if (/^[0-9]+$/.test(f)) {
          functions!.push(Number(f));
          return;
        }
        const code = proto !== undefined ? functionCode(proto, f) : undefined;
        if (code === undefined) {
          if (proto !== undefined && namedProtocols().includes(proto))
            this.err(['groups', i, 'functions', j], `'${f}' is not a ${proto} function`);
          else if (proto !== undefined)
            this.err(['groups', i, 'functions', j], `${proto} functions are given by number`);
        } else functions!.push(code);
      });
    }
    // Read-only (also by default) admits only reads: a listed function that changes the device contradicts it.
    if (
      functions !== undefined &&
      proto !== undefined &&
      (g.access ?? 'read-only') === 'read-only'
    ) {
      functions.forEach((f, j) => {
        const cat = functionCodeCategory(proto, f);
        if (cat === 'write' || cat === 'control' || cat === 'program' || cat === 'config') {
          this.err(
            ['groups', i, 'functions', j],
            `${functionLabel(proto, f) ?? f} is a ${cat} function, but the group is read-only${g.access === undefined ? ' (the default)' : ''}: set \`access: read-write\` or remove it`,
          );
        }
      });
    }
    let addresses: AddressRanges | undefined;
    if (g.addresses !== undefined) {
      if (proto === undefined)
        this.err(['groups', i, 'addresses'], "addresses need the group's `protocol:`");
      addresses = {};
      for (const [space, list] of Object.entries(g.addresses)) {
        const spaces = proto !== undefined ? KNOWN_SPACES[proto] : undefined;
        if (spaces !== undefined && !spaces.test(space))
          this.err(
            ['groups', i, 'addresses', space],
            `'${space}' is not a ${proto} address space (coil, discrete_input, holding_register, input_register, fifo or file_N)`,
          );
        addresses[space] = list.map((a, j) => {
          const [lo, hi] =
            typeof a === 'number' ? [a, a] : (a.split('-').map(Number) as [number, number?]);
          const top = hi ?? lo;
          if (top < lo) this.err(['groups', i, 'addresses', space, j], `range ${a} runs backwards`);
          return [lo, top] as [number, number];
        });
      }
    }
    if (g.units !== undefined) {
      const bad = unitsProblem(proto, g.units);
      if (bad !== null)
        this.err(['groups', i, 'units', ...(bad.at !== undefined ? [bad.at] : [])], bad.why);
    }
    if (g.secured_channels !== undefined && proto !== 'opcua')
      this.err(
        ['groups', i, 'secured_channels'],
        'only OPC UA has secured channels the gateway cannot read: set `protocol: opcua` or remove it',
      );
    g.windows?.forEach((w, j) => {
      if (!windowNames.has(w) && !this.cut('windows', w))
        this.err(['groups', i, 'windows', j], `no window named '${w}'${this.known('windows')}`);
    });
    return {
      name: g.name,
      description: g.description,
      conduit: g.conduit,
      clients: g.clients,
      servers: g.servers,
      transport,
      ports,
      protocol: proto,
      functions,
      addresses,
      ...(g.units !== undefined ? { units: [...new Set(g.units)] } : {}),
      access: g.access ?? 'read-only',
      windows: g.windows,
      ...(g.secured_channels !== undefined ? { securedChannels: g.secured_channels } : {}),
    };
  }

  private unique(
    section: 'assets' | 'zones' | 'conduits' | 'groups' | 'windows' | Path,
    items: Array<{ name: string }>,
  ): void {
    const seen = new Set<string>();
    const at: Path = typeof section === 'string' ? [section] : section;
    const what = typeof section === 'string' ? section : String(section.at(-1));
    items.forEach((it, i) => {
      if (seen.has(it.name))
        this.err([...at, i, 'name'], `'${it.name}' is defined twice in ${what}`);
      seen.add(it.name);
    });
  }

  /** A zone's playbook: zones it names exist, addresses it may block are addresses, durations are sane. */
  private playbook(
    pb: RawPlaybook,
    at: Path,
    assetIps: Map<string, string>,
    zoneSets: Map<string, HostSet>,
  ): Playbook {
    const notIn = pb.when?.source_not_in ?? [];
    notIn.forEach((z, k) => {
      if (!zoneSets.has(z) && !this.cut('zones', z))
        this.err([...at, 'when', 'source_not_in', k], `no zone named '${z}'${this.known('zones')}`);
    });
    const mayBlock: string[] = [];
    (pb.may_block ?? []).forEach((h, k) => {
      const ip = assetIps.get(h) ?? h;
      if (parseCidr(ip) === null) {
        if (!this.cut('assets', h))
          this.err(
            [...at, 'may_block', k],
            zoneSets.has(h)
              ? `'${h}' is a zone: name the addresses the playbook may block one by one (or as a CIDR block)`
              : `'${h}' is not an address, a CIDR block or a named asset`,
          );
      } else mayBlock.push(ip);
    });
    const ttl = pb.block_ttl === undefined ? DEFAULT_BLOCK_TTL : parseDuration(pb.block_ttl);
    if (ttl < 1 || ttl > 7 * 86400)
      this.err(
        [...at, 'block_ttl'],
        'a playbook blocks for 1 s to 7 d: longer containment is a decision for people (weir block)',
      );
    if (pb.block_ttl !== undefined && !pb.actions.includes('block_source'))
      this.err([...at, 'block_ttl'], 'block_ttl without the block_source action');
    if (pb.may_block !== undefined && !pb.actions.includes('block_source'))
      this.err([...at, 'may_block'], 'may_block without the block_source action');
    const per = pb.rate_limit ? parseDuration(pb.rate_limit.per) : DEFAULT_RATE_LIMIT.per;
    if (per < 1) this.err([...at, 'rate_limit', 'per'], 'the window must be at least 1 s');
    return {
      name: pb.name,
      ...(pb.description !== undefined ? { description: pb.description } : {}),
      mode: pb.mode ?? 'simulate',
      on: pb.on,
      minSeverity: pb.when?.min_severity ?? 'info',
      sourceNotIn: notIn,
      sourceUnknown: pb.when?.source_unknown ?? false,
      actions: pb.actions,
      blockTtl: ttl,
      mayBlock,
      rateLimit: { max: pb.rate_limit?.max ?? DEFAULT_RATE_LIMIT.max, per },
    };
  }

  private known(section: 'zones' | 'conduits' | 'windows'): string {
    const names = (this.raw[section] ?? []).map((x) => x.name);
    return names.length ? ` (defined: ${names.join(', ')})` : ` (no ${section} are defined)`;
  }
}

/** Minutes after midnight; 24:00 only as the end of a window. */
function minutes(hhmm: string, end: boolean): number | null {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  if (m > 59 || h > 24 || (h === 24 && (m !== 0 || !end))) return null;
  return h * 60 + m;
}

/** The unmatched opening bracket before `from`, or `from` when there is none. */
function openingBracket(text: string, from: number, open: string, close: string): number {
  let depth = 0;
  for (let i = Math.min(from, text.length - 1); i >= 0; i--) {
    const ch = text[i];
    if (ch === close) depth++;
    else if (ch === open && depth-- === 0) return i;
  }
  return from;
}

/** Path of the innermost key whose entry spans `offset` (for YAML-level errors such as duplicate keys). */
function pathAt(node: unknown, offset: number): Array<string | number> {
  if (isMap(node)) {
    for (const p of node.items) {
      const k = p.key as Node | null,
        v = p.value as Node | null;
      const start = k?.range?.[0] ?? Infinity,
        end = v?.range?.[2] ?? k?.range?.[2] ?? -1;
      if (offset >= start && offset <= end)
        return [isScalar(k) ? String(k.value) : '?', ...pathAt(v, offset)];
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const r = (node.items[i] as Node | null)?.range;
      if (r && offset >= r[0] && offset <= r[2]) return [i, ...pathAt(node.items[i], offset)];
    }
  }
  return [];
}

/** Line where bracket nesting first gets absurd (for the error of a document too deep to parse). */
function deepestLine(text: string): number {
  let depth = 0,
    line = 1;
  for (const ch of text) {
    if (ch === '\n') line++;
    else if (ch === '[' || ch === '{') {
      if (++depth > 64) return line;
    } else if (ch === ']' || ch === '}') depth--;
  }
  return 1;
}

export function parseDuration(d: number | string): number {
  if (typeof d === 'number') return d;
  const n = Number(d.slice(0, -1));
  return n * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[d.at(-1) as 's' | 'm' | 'h' | 'd' | 'w'];
}

/** A span as people say it: the two largest units, e.g. "7 d", "2 d 3 h", "52 min", "45 s". */
export function humanDuration(seconds: number): string {
  const units = [
    ['w', 604800],
    ['d', 86400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ] as const;
  let left = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [unit, n] of units) {
    if (left >= n && parts.length < 2) {
      parts.push(`${Math.floor(left / n)} ${unit}`);
      left %= n;
    } else if (parts.length > 0) break; // "1 d 30 s" reads as a typo: stop at the first empty unit
  }
  return parts.length ? parts.join(' ') : '0 s';
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
