import { ECS_SEVERITY, type ExportEvent } from '../event.js';
import type { ExportFormat, Observer } from './format.js';

/** The event as an Elastic Common Schema (ECS 8) document; Weir's own fields sit under `weir.*`. */
export function ecsDocument(e: ExportEvent, o: Observer): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    '@timestamp': new Date(e.ts * 1000).toISOString(),
    message: e.message,
    event: {
      id: e.id,
      kind: 'alert',
      category: ['intrusion_detection'],
      type: e.kind === 'incident' ? ['info'] : ['indicator'],
      action: e.type,
      dataset: `weir.${e.kind}`,
      module: 'weir',
      provider: 'weir',
      severity: ECS_SEVERITY[e.severity],
      start: new Date(e.start * 1000).toISOString(),
      end: new Date(e.end * 1000).toISOString(),
      reason: e.message,
    },
    rule: {
      id: e.type,
      name: e.name,
      category: e.kind,
      ruleset: 'weir',
      description: e.message,
    },
    observer: {
      hostname: o.hostname,
      vendor: o.vendor,
      product: o.product,
      version: o.version,
      type: 'ids',
    },
    weir: {
      kind: e.kind,
      subject_id: e.subject,
      update: e.update,
      reason: e.reason,
      severity: e.severity,
      count: e.count,
      zones: e.zones,
      ...(e.status !== null ? { status: e.status } : {}),
      ...(e.assets.length ? { assets: e.assets } : {}),
      detection_ids: e.detectionIds,
    },
  };
  if (e.src !== null) doc.source = { ip: e.src };
  if (e.dst !== null)
    doc.destination = e.dstPort !== null ? { ip: e.dst, port: e.dstPort } : { ip: e.dst };
  if (e.protocol !== null) doc.network = { protocol: e.protocol };
  if (e.techniques.length || e.tactics.length) {
    doc.threat = {
      framework: 'MITRE ATT&CK',
      ...(e.techniques.length ? { technique: { id: e.techniques } } : {}),
      ...(e.tactics.length ? { tactic: { name: e.tactics } } : {}),
    };
  }
  return doc;
}

export const ecs: ExportFormat = {
  name: 'ecs',
  render: (e, o) => JSON.stringify(ecsDocument(e, o)),
};
