import { Document, isScalar, isSeq, visit } from 'yaml';
import { functionLabel } from '../dissect/registry.js';
import type { Policy } from './model.js';
import { hhmm } from './windows.js';

/** A policy as the YAML people review: function names instead of codes, short lists on one line, stable order. */
export function policyToYaml(p: Policy, header?: string): string {
  const doc = new Document({
    weir: 'policy/1',
    ...(p.site ? { site: p.site } : {}),
    timezone: p.timezone,
    ...(p.assets.length
      ? {
          assets: p.assets.map((a) => ({
            name: a.name,
            ip: a.ip,
            ...(a.role ? { role: a.role } : {}),
            ...(a.mac ? { mac: a.mac } : {}),
          })),
        }
      : {}),
    zones: p.zones.map((z) => ({
      name: z.name,
      ...(z.description ? { description: z.description } : {}),
      members: z.members,
      ...(z.securityLevel !== undefined ? { security_level: z.securityLevel } : {}),
      mode: z.mode,
      internal: z.internal,
      approvals: z.approvals,
      simulation_window: duration(z.simulationWindow),
      ...(z.playbooks?.length
        ? {
            playbooks: z.playbooks.map((b) => ({
              name: b.name,
              ...(b.description ? { description: b.description } : {}),
              mode: b.mode,
              on: b.on,
              when: {
                min_severity: b.minSeverity,
                ...(b.sourceNotIn.length ? { source_not_in: b.sourceNotIn } : {}),
                source_unknown: b.sourceUnknown,
              },
              actions: b.actions,
              ...(b.actions.includes('block_source') ? { block_ttl: duration(b.blockTtl) } : {}),
              ...(b.mayBlock.length ? { may_block: b.mayBlock } : {}),
              rate_limit: { max: b.rateLimit.max, per: duration(b.rateLimit.per) },
            })),
          }
        : {}),
      ...(z.layer2
        ? {
            layer2: {
              engineering: z.layer2.engineering,
              ...(z.layer2.publishers ? { publishers: z.layer2.publishers } : {}),
              unknown_ethertypes: z.layer2.unknownEthertypes,
            },
          }
        : {}),
    })),
    ...(p.conduits.length
      ? {
          conduits: p.conduits.map((c) => ({
            name: c.name,
            from: c.from,
            to: c.to,
            ...(c.description ? { description: c.description } : {}),
          })),
        }
      : {}),
    ...(p.groups.length
      ? {
          groups: p.groups.map((g) => ({
            name: g.name,
            ...(g.description ? { description: g.description } : {}),
            ...(g.conduit ? { conduit: g.conduit } : {}),
            clients: g.clients,
            servers: g.servers,
            ...(g.protocol ? { protocol: g.protocol } : {}),
            transport: g.transport,
            ports: g.ports,
            ...(g.functions
              ? {
                  functions: g.functions.map(
                    (f) => (g.protocol ? functionLabel(g.protocol, f) : undefined) ?? f,
                  ),
                }
              : {}),
            ...(g.addresses
              ? {
                  addresses: Object.fromEntries(
                    Object.entries(g.addresses).map(([s, rs]) => [
                      s,
                      rs.map(([a, b]) => (a === b ? a : `${a}-${b}`)),
                    ]),
                  ),
                }
              : {}),
            ...(g.units ? { units: g.units } : {}),
            access: g.access,
            ...(g.windows ? { windows: g.windows } : {}),
            ...(g.securedChannels ? { secured_channels: g.securedChannels } : {}),
          })),
        }
      : {}),
    ...(p.windows.length
      ? {
          windows: p.windows.map((w) => ({
            name: w.name,
            days: w.days,
            from: hhmm(w.from),
            to: hhmm(w.to),
            timezone: w.timezone,
          })),
        }
      : {}),
    ...(p.decoys?.length
      ? {
          decoys: p.decoys.map((d) => ({
            name: d.name,
            zone: d.zone,
            ...(d.clone.length ? { clone: d.clone } : {}),
            services: d.services,
            addresses: d.pool,
            active: d.active,
            ...(d.rotate
              ? {
                  rotate: {
                    ...(d.rotate.every !== undefined ? { every: duration(d.rotate.every) } : {}),
                    ...(d.rotate.windows ? { windows: d.rotate.windows } : {}),
                  },
                }
              : {}),
          })),
        }
      : {}),
    ...(p.permitTemplates?.length
      ? {
          permit_templates: p.permitTemplates.map((t) => ({
            name: t.name,
            ...(t.description ? { description: t.description } : {}),
            directory_groups: t.directoryGroups,
            zone: t.zone,
            servers: t.servers,
            ...(t.clients ? { clients: t.clients } : {}),
            protocol: t.protocol,
            ports: t.ports,
            ...(t.functions
              ? { functions: t.functions.map((f) => functionLabel(t.protocol, f) ?? f) }
              : {}),
            ...(t.addresses
              ? {
                  addresses: Object.fromEntries(
                    Object.entries(t.addresses).map(([s, rs]) => [
                      s,
                      rs.map(([a, b]) => (a === b ? a : `${a}-${b}`)),
                    ]),
                  ),
                }
              : {}),
            ...(t.units ? { units: t.units } : {}),
            access: t.access,
            max_ttl: duration(t.maxTtl),
            ...(t.windows ? { windows: t.windows } : {}),
          })),
        }
      : {}),
  });
  // Lists of plain values read best inline: `functions: [read_coils, read_holding_registers]`.
  visit(doc, {
    Seq(_, node) {
      if (isSeq(node) && node.items.every((i) => isScalar(i))) node.flow = true;
    },
  });
  if (header)
    doc.commentBefore = header
      .split('\n')
      .map((l) => ` ${l}`)
      .join('\n');
  return doc.toString({ lineWidth: 140 });
}

function duration(s: number): string | number {
  for (const [unit, n] of [
    ['w', 604800],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (s % n === 0 && s >= n) return `${s / n}${unit}`;
  return s;
}
