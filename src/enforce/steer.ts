import type { CompiledGroup, CompiledPolicy } from '../policy/evaluate.js';
import type { PermitTemplate } from '../policy/model.js';
import { ipv4Span } from '../policy/hosts.js';
import { gatewayDissector, gatewayProtocols } from '../dissect/registry.js';

/** More steered servers than this is not an inline gateway's job (expand a zone of that size into groups). */
export const MAX_TARGETS = 4096;

/** One server the gateway guards: its listener's port is chosen by the gateway and told to the kernel. */
export interface GatewayTarget {
  server: string;
  port: number;
  /** Stream dissector that frames and reads this server's PDUs. */
  protocol: string;
  listenIp: string;
}

/** How each context group of an enforcing zone is enforced, and what cannot be. */
export interface EnforcementPlan {
  /** Servers whose every request the gateway checks. */
  targets: GatewayTarget[];
  /** Groups enforced by client, server and port only, and why that is all they need. */
  portLevel: Array<{ group: string; why: string }>;
  /** Groups whose limits nothing would enforce: applying must refuse, naming them. */
  unenforceable: Array<{ group: string; why: string }>;
}

/**
 * Work out how a policy's enforcing zones are enforced: groups that limit functions, addresses or write access
 * on a protocol the gateway reads are steered to it, server by server (zones and CIDRs expanded); a group
 * whose limits neither the kernel nor the gateway can check is reported, never silently widened to a port
 * allow. Without a gateway (`listenIp` null), every such group is unenforceable unless `portLevelOk` says the
 * people applying accept port-level enforcement for them.
 */
export function enforcementPlan(
  cp: CompiledPolicy,
  listenIp: string | null,
  opts: { portLevelOk?: boolean } = {},
): EnforcementPlan {
  const plan: EnforcementPlan = { targets: [], portLevel: [], unenforceable: [] };
  const seen = new Map<string, GatewayTarget>();
  for (const c of cp.groups) {
    const servers = enforcedServers(cp, c);
    if (servers === null) continue;
    const g = c.group;
    const limits =
      c.functions !== null || c.addresses !== null || c.units !== null || g.access === 'read-only';
    const protocol = g.protocol !== undefined ? gatewayDissector(g.protocol)?.protocol : undefined;
    if (c.inspected && protocol !== undefined) {
      if (listenIp === null) {
        const why = `${g.protocol} requests ${limits ? 'are limited' : 'are checked for what a real client sends'}, and no gateway is given (--gateway-ip)`;
        if (opts.portLevelOk)
          plan.portLevel.push({ group: g.name, why: `${why}; accepted as port-level only` });
        else plan.unenforceable.push({ group: g.name, why });
        continue;
      }
      if (servers.ipv6) {
        plan.unenforceable.push({
          group: g.name,
          why: 'IPv6 servers cannot be steered to the gateway yet',
        });
        continue;
      }
      if (servers.tooMany) {
        plan.unenforceable.push({
          group: g.name,
          why: `its servers span more than ${MAX_TARGETS} addresses; name the servers`,
        });
        continue;
      }
      for (const server of servers.v4)
        for (const port of c.ports)
          seen.set(`${server}:${port}`, { server, port, protocol, listenIp });
      continue;
    }
    if (!limits) {
      plan.portLevel.push({
        group: g.name,
        why: g.protocol
          ? `${g.protocol} is allowed whole (read-write, no function or address list)`
          : 'no protocol: client, server and port only',
      });
      continue;
    }
    const why =
      g.protocol === undefined
        ? "read-only needs the group's protocol, so that requests can be read; name it, or make the group read-write (port-level)"
        : `the gateway reads ${gatewayProtocols.join(', ')} over TCP, not ${g.protocol} over ${g.transport}; drop its function/address limits and make it read-write (port-level), or keep the zone in simulate`;
    plan.unenforceable.push({ group: g.name, why });
  }
  permitTargets(cp, listenIp, opts, plan, seen);
  plan.targets = [...seen.values()].sort(
    (a, b) => a.server.localeCompare(b.server, undefined, { numeric: true }) || a.port - b.port,
  );
  if (plan.targets.length > MAX_TARGETS) {
    plan.unenforceable.push({
      group: '(all)',
      why: `${plan.targets.length} server ports to steer, more than the gateway takes (${MAX_TARGETS}); name servers instead of whole zones`,
    });
    plan.targets = [];
  }
  return plan;
}

/**
 * Permit templates open servers to people for a while, limited to functions and registers: those servers are
 * steered to the gateway too (it judges each request of a permitted flow by the permit's group), whether or
 * not a context group names them; without a gateway such a template is enforced by flow only, or refused. A
 * limited template on a protocol the gateway cannot read is refused like such a group, never widened.
 */
function permitTargets(
  cp: CompiledPolicy,
  listenIp: string | null,
  opts: { portLevelOk?: boolean },
  plan: EnforcementPlan,
  seen: Map<string, GatewayTarget>,
): void {
  for (const t of cp.policy.permitTemplates ?? []) {
    const servers = t.servers.filter((s) => cp.zoneOf(s)?.mode === 'enforce');
    if (servers.length === 0) continue;
    const protocol = gatewayDissector(t.protocol)?.protocol;
    const name = `permit template ${t.name}`;
    if (protocol === undefined || t.transport !== 'tcp') {
      const why = unjudgedLimits(t);
      if (why !== null) plan.unenforceable.push({ group: name, why });
      else
        plan.portLevel.push({
          group: name,
          why: `${t.protocol} is permitted whole (read-write, no function or address list)`,
        });
      continue;
    }
    if (listenIp === null) {
      const why = `${t.protocol} requests of its permits are limited, and no gateway is given (--gateway-ip)`;
      if (opts.portLevelOk)
        plan.portLevel.push({ group: name, why: `${why}; accepted as port-level only` });
      else plan.unenforceable.push({ group: name, why });
      continue;
    }
    for (const server of servers)
      for (const port of t.ports) {
        const k = `${server}:${port}`;
        if (!seen.has(k)) seen.set(k, { server, port, protocol, listenIp });
      }
  }
}

/**
 * Why a permit template's limits would not hold, or null when they do (or it has none): a permit opens its
 * flow in the kernel, and only the gateway can hold it to reads or to functions and registers. Such limits on
 * a protocol it cannot read would be a full grant under a read-only name: refused at apply and at grant.
 */
/** Whether a permit's scope is limited (read-only, functions, registers, stations): only a gateway holds it. */
export const hasLimits = (
  t: Pick<PermitTemplate, 'access' | 'functions' | 'addresses' | 'units'>,
): boolean =>
  t.access === 'read-only' ||
  t.functions !== undefined ||
  t.addresses !== undefined ||
  t.units !== undefined;

export function unjudgedLimits(t: PermitTemplate): string | null {
  if (gatewayDissector(t.protocol) !== undefined && t.transport === 'tcp') return null;
  if (!hasLimits(t)) return null;
  return `its permits are limited (${t.access === 'read-only' ? 'read-only' : 'functions/registers'}), but the gateway reads ${gatewayProtocols.join(', ')} over TCP, not ${t.protocol} over ${t.transport}: a permit would open the whole protocol; make it \`access: read-write\` with no function or address list (a permit by flow), or keep zone ${t.zone} in simulate`;
}

/** The group's server addresses that sit in an enforcing zone, or null when none does. */
function enforcedServers(
  cp: CompiledPolicy,
  c: CompiledGroup,
): { v4: string[]; ipv6: boolean; tooMany: boolean } | null {
  const v4: string[] = [];
  let ipv6 = false,
    tooMany = false;
  for (const b of c.servers.blocks) {
    if (b.family !== 'ipv4') {
      if (cp.zoneOf(b.address)?.mode === 'enforce') ipv6 = true;
      continue;
    }
    const { lo, hi } = ipv4Span(b);
    // Network and broadcast addresses of a block are not servers.
    const first = b.prefix < 31 ? lo + 1 : lo,
      last = b.prefix < 31 ? hi - 1 : hi;
    if (last - first >= 65_536) {
      tooMany = true;
      continue;
    }
    for (let a = first; a <= last && v4.length <= MAX_TARGETS; a++) {
      const ip = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
      if (cp.zoneOf(ip)?.mode === 'enforce') v4.push(ip);
    }
  }
  if (v4.length > MAX_TARGETS) tooMany = true;
  return v4.length > 0 || ipv6 || tooMany ? { v4, ipv6, tooMany } : null;
}

/** The gateway's targets under a policy (what `weir gateway` listens for). */
export function gatewayTargets(cp: CompiledPolicy, listenIp: string): GatewayTarget[] {
  return enforcementPlan(cp, listenIp).targets;
}
