/**
 * Exposure paths: who can change what a PLC or RTU does. From the observed communication map, every chain
 * of conversations (up to three hops) that ends in a request that writes, controls or programs the
 * controller, with the zones and conduits each hop crosses. Paths that start in lower-trust zones (IT, DMZ,
 * remote access, or outside every zone) come first. Given a policy, each hop is judged against it, so a
 * proposed policy shows which write-capable paths it would remove. Pure: inventory and policies in.
 */
import type { Asset, Edge } from '../discover/model.js';
import type { Policy, Zone } from '../policy/model.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { functionCodeCategory } from '../dissect/registry.js';
import type { FunctionCategory } from '../dissect/protocol.js';

export const CHANGING: ReadonlySet<FunctionCategory> = new Set([
  'write',
  'control',
  'program',
  'config',
]);
const TARGET_ROLES = new Set(['plc', 'rtu']);
const LOW_TRUST =
  /\b(it|dmz|corp|corporate|enterprise|office|remote|vendor|internet|guest|business)\b/i;
const MAX_HOPS = 3;

export interface Hop {
  client: string;
  server: string;
  protocol: string;
  port: number;
  clientZone: string | null;
  serverZone: string | null;
  /** The policy conduit between the two zones, when they differ and one is named. */
  conduit: string | null;
  /** Functions that change the controller (last hop only), e.g. "write_single_register ×4". */
  changes: string[];
}

export interface ExposurePath {
  target: string;
  targetRole: string;
  source: string;
  sourceZone: string | null;
  /** Lower is less trusted: -1 outside every zone, 0 IT/DMZ/remote, else the zone's security level (default 2). */
  sourceTrust: number;
  hops: Hop[];
  /** What the last hop does to the controller, by category. */
  categories: FunctionCategory[];
  /** The path in words. */
  summary: string;
}

export interface ExposureReport {
  targets: number;
  paths: ExposurePath[];
}

export function zoneTrust(z: Zone | null): number {
  if (z === null) return -1;
  if (LOW_TRUST.test(z.name.replace(/[-_]/g, ' ')) || LOW_TRUST.test(z.description ?? '')) return 0;
  return z.securityLevel ?? 2;
}

/** Whether an edge carries requests that change the server: their names and categories. */
export function changingFunctions(e: Edge): { names: string[]; categories: FunctionCategory[] } {
  const names: string[] = [];
  const cats = new Set<FunctionCategory>();
  for (const f of e.functions) {
    const c = functionCodeCategory(f.protocol, f.func);
    if (CHANGING.has(c) || f.writes > 0) {
      names.push(`${f.name} ×${f.count}`);
      cats.add(CHANGING.has(c) ? c : 'write');
    }
  }
  return { names, categories: [...cats] };
}

/** Exposure paths into every PLC and RTU of the inventory. */
export function exposurePaths(
  assets: readonly Asset[],
  edges: readonly Edge[],
  policy: Policy | null,
): ExposureReport {
  const cp = policy ? new CompiledPolicy(policy) : null;
  const conduitOf = conduitNamer(policy);
  const targets = assets.filter((a) => TARGET_ROLES.has(a.role));
  const roleOf = new Map<string, string>();
  for (const a of assets) for (const ip of a.ips.length ? a.ips : [a.id]) roleOf.set(ip, a.role);
  const into = new Map<string, Edge[]>();
  for (const e of edges) {
    const l = into.get(e.server);
    if (l) l.push(e);
    else into.set(e.server, [e]);
  }
  const hopOf = (e: Edge, changes: string[]): Hop => {
    const cz = cp?.zoneOf(e.client)?.name ?? null;
    const sz = cp?.zoneOf(e.server)?.name ?? null;
    return {
      client: e.client,
      server: e.server,
      protocol: e.protocol,
      port: e.port,
      clientZone: cz,
      serverZone: sz,
      conduit: cz !== sz ? conduitOf(cz, sz) : null,
      changes,
    };
  };
  const paths: ExposurePath[] = [];
  for (const t of targets) {
    for (const ip of t.ips.length ? t.ips : [t.id]) {
      for (const last of into.get(ip) ?? []) {
        const ch = changingFunctions(last);
        if (ch.names.length === 0) continue;
        // Walk back from the client of the changing request: whoever reaches it can act through it.
        const stack: Array<{ hops: Hop[]; seen: Set<string> }> = [
          { hops: [hopOf(last, ch.names)], seen: new Set([ip, last.client]) },
        ];
        while (stack.length > 0) {
          const { hops, seen } = stack.pop()!;
          const start = hops[0]!.client;
          const z = cp?.zoneOf(start) ?? null;
          paths.push({
            target: ip,
            targetRole: t.role,
            source: start,
            sourceZone: z?.name ?? null,
            sourceTrust: zoneTrust(z),
            hops,
            categories: ch.categories,
            summary: describe(hops, roleOf),
          });
          if (hops.length >= MAX_HOPS) continue;
          for (const prev of into.get(start) ?? []) {
            if (seen.has(prev.client)) continue;
            stack.push({
              hops: [hopOf(prev, []), ...hops],
              seen: new Set([...seen, prev.client]),
            });
          }
        }
      }
    }
  }
  paths.sort(
    (a, b) =>
      a.sourceTrust - b.sourceTrust ||
      a.hops.length - b.hops.length ||
      a.target.localeCompare(b.target) ||
      a.source.localeCompare(b.source),
  );
  return { targets: targets.length, paths };
}

function describe(hops: Hop[], roleOf: Map<string, string>): string {
  const who = (ip: string, zone: string | null) =>
    `${ip}${roleOf.get(ip) ? ` (${roleOf.get(ip)}` : ' ('}${zone ? `, zone ${zone}` : ', no zone'})`;
  const parts = [who(hops[0]!.client, hops[0]!.clientZone)];
  for (const h of hops) {
    const via = h.conduit ? ` via conduit ${h.conduit}` : '';
    parts.push(
      `—${h.protocol}/${h.port}${via}${h.changes.length ? ` [${h.changes.join(', ')}]` : ''}→ ${who(h.server, h.serverZone)}`,
    );
  }
  return parts.join(' ');
}

function conduitNamer(
  policy: Policy | null,
): (from: string | null, to: string | null) => string | null {
  if (!policy) return () => null;
  return (from, to) =>
    policy.conduits.find(
      (c) => (c.from === from && c.to === to) || (c.from === to && c.to === from),
    )?.name ?? null;
}

export interface PolicyEffect {
  /** Paths the policy leaves possible. */
  kept: ExposurePath[];
  /** Paths the policy would cut, with the hop it refuses and why. */
  removed: Array<{ path: ExposurePath; hop: number; why: string }>;
}

/**
 * What a policy does to the exposure paths: a hop survives when the flow is open (no zone governs it, or
 * inside a zone that allows internal traffic) or a context group of the policy allows it — for the last
 * hop, a read-write group that admits the changing functions.
 */
export function policyEffect(
  paths: readonly ExposurePath[],
  policy: Policy,
  edges: readonly Edge[],
): PolicyEffect {
  const cp = new CompiledPolicy(policy);
  const edgeOf = new Map<string, Edge>();
  for (const e of edges) edgeOf.set(`${e.client}|${e.server}|${e.protocol}|${e.port}`, e);
  const kept: ExposurePath[] = [];
  const removed: PolicyEffect['removed'] = [];
  for (const p of paths) {
    let cut: { hop: number; why: string } | null = null;
    p.hops.forEach((h, i) => {
      if (cut) return;
      const e = edgeOf.get(`${h.client}|${h.server}|${h.protocol}|${h.port}`);
      const transport = e?.transport === 'udp' ? 'udp' : 'tcp';
      const r = cp.rules(h.client, h.server, transport, h.port);
      if (r.open || r.zone === null) return;
      if (r.groups.length === 0) {
        cut = {
          hop: i,
          why: `no context group allows ${h.client} → ${h.server} ${h.protocol}/${h.port}`,
        };
        return;
      }
      if (i < p.hops.length - 1 || !e) return;
      const funcs = e.functions.filter(
        (f) => CHANGING.has(functionCodeCategory(f.protocol, f.func)) || f.writes > 0,
      );
      const allowing = r.groups.filter(
        (g) =>
          g.group.access === 'read-write' &&
          funcs.some((f) => g.functions === null || g.functions.has(f.func)),
      );
      if (allowing.length === 0)
        cut = {
          hop: i,
          why: `groups ${r.groups.map((g) => g.group.name).join(', ')} allow ${h.client} → ${h.server} only without ${p.categories.join('/')} functions`,
        };
    });
    if (cut) removed.push({ path: p, ...(cut as { hop: number; why: string }) });
    else kept.push(p);
  }
  return { kept, removed };
}
