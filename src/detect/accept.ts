import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import { functionKey } from '../discover/baseline.js';
import { RangeSet } from '../discover/ranges.js';
import type { Detection } from './detection.js';

/**
 * "Learn this": fold what a detection saw into a new baseline version, so the same behaviour is normal from
 * now on. Returns null for detections that describe an event rather than a profile (scans, CPU stop, …):
 * those are muted, not learned.
 */
export function acceptIntoBaseline(b: Baseline, d: Detection, note: string): Baseline | null {
  const next: Baseline = structuredClone(b);
  next.version = b.version + 1;
  next.createdAt = new Date().toISOString();
  next.note = note || `accepted ${d.type} ${d.id}`;
  const f = d.evidence.fields;
  const edge = findEdge(next, d);
  switch (d.type) {
    case 'new_asset':
      if (!next.assets.includes(d.src)) next.assets.push(d.src);
      if (typeof f.mac === 'string' && f.mac) next.macs[d.src] = f.mac;
      return next;
    case 'new_edge': {
      const id = String(f.edge);
      if (next.edges[id]) return next;
      const [, rest] = id.split('>') as [string, string];
      const server = rest.split('/')[0]!;
      next.edges[id] = {
        id, client: d.src, server, transport: f.transport as EdgeProfile['transport'], port: Number(f.port), protocols: [d.protocol],
        functions: [], reads: {}, writes: {}, values: {}, pollInterval: null, pollJitter: null, maxRequestGap: 0, requestRate: 0, requests: 0, anomalyKinds: [],
        firstSeen: d.ts, lastSeen: d.lastTs,
      };
      for (const ip of [d.src, server]) if (!next.assets.includes(ip)) next.assets.push(ip);
      return next;
    }
    case 'new_protocol':
      if (!edge) return null;
      if (!edge.protocols.includes(d.protocol)) edge.protocols.push(d.protocol);
      return next;
    case 'function_outside_profile':
      if (!edge) return null;
      if (!edge.functions.includes(functionKey(d.protocol, Number(f.func)))) edge.functions.push(functionKey(d.protocol, Number(f.func)));
      return next;
    case 'write_new_range': {
      if (!edge) return null;
      const space = String(f.space);
      const set = RangeSet.from(edge.writes[space] ?? []);
      set.add(Number(f.start), Number(f.count));
      edge.writes[space] = set.toArray();
      return next;
    }
    case 'value_out_of_range': {
      if (!edge) return null;
      const key = String(f.point), v = Number(f.value);
      const r = edge.values[key] ?? [v, v];
      edge.values[key] = [Math.min(r[0], v), Math.max(r[1], v)];
      return next;
    }
    case 'arp_spoofing':
      next.macs[String(f.ip)] = String(f.claimed_by);
      return next;
    default:
      return null;
  }
}

/** The baseline edge a detection is about: the pair in the direction the traffic took. */
function findEdge(b: Baseline, d: Detection): EdgeProfile | undefined {
  for (const e of Object.values(b.edges)) {
    if ((e.client === d.src && e.server === d.dst) || (e.client === d.dst && e.server === d.src)) {
      if (d.protocol === 'ip' || e.protocols.includes(d.protocol) || d.type === 'new_protocol') return e;
    }
  }
  return undefined;
}
