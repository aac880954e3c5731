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
        id,
        client: d.src,
        server,
        transport: f.transport as EdgeProfile['transport'],
        port: Number(f.port),
        protocols: [d.protocol],
        functions: [],
        reads: {},
        writes: {},
        values: {},
        pollInterval: null,
        pollJitter: null,
        maxRequestGap: 0,
        requestRate: 0,
        requests: 0,
        anomalyKinds: [],
        firstSeen: d.ts,
        lastSeen: d.lastTs,
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
      if (!edge.functions.includes(functionKey(d.protocol, Number(f.func))))
        edge.functions.push(functionKey(d.protocol, Number(f.func)));
      // The ranges a new write function touched are part of what it did: learn them with it.
      if (Array.isArray(f.points)) learnWrites(edge, (f.points as string[]).map(parseRange));
      return next;
    case 'write_new_range': {
      if (!edge) return null;
      // A folded detection lists every range it saw ('space:start' or 'space:start..end').
      learnWrites(
        edge,
        Array.isArray(f.points)
          ? (f.points as string[]).map(parseRange)
          : [[String(f.space), Number(f.start), Number(f.count)] as const],
      );
      return next;
    }
    case 'value_out_of_range': {
      if (!edge) return null;
      const seen =
        typeof f.point_values === 'object' && f.point_values !== null
          ? Object.entries(f.point_values as Record<string, [number, number]>)
          : [[String(f.point), [Number(f.value), Number(f.value)]] as const];
      for (const [key, [lo, hi]] of seen) {
        const r = edge.values[key] ?? [lo, hi];
        edge.values[key] = [Math.min(r[0], lo), Math.max(r[1], hi)];
      }
      return next;
    }
    case 'arp_spoofing':
      next.macs[String(f.ip)] = String(f.claimed_by);
      return next;
    default:
      return null;
  }
}

function learnWrites(
  edge: EdgeProfile,
  ranges: ReadonlyArray<readonly [string, number, number]>,
): void {
  for (const [space, start, count] of ranges) {
    const set = RangeSet.from(edge.writes[space] ?? []);
    set.add(start, count);
    edge.writes[space] = set.toArray();
  }
}

/** 'holding_register:200..201' → space, start, count. */
function parseRange(label: string): readonly [string, number, number] {
  const m = /^(.+):(\d+)(?:\.\.(\d+))?$/.exec(label);
  if (m === null) throw new Error(`not a written range: ${label}`);
  const start = Number(m[2]);
  return [m[1]!, start, (m[3] === undefined ? start : Number(m[3])) - start + 1];
}

/** The baseline edge a detection is about: the pair in the direction the traffic took. */
function findEdge(b: Baseline, d: Detection): EdgeProfile | undefined {
  for (const e of Object.values(b.edges)) {
    if ((e.client === d.src && e.server === d.dst) || (e.client === d.dst && e.server === d.src)) {
      if (d.protocol === 'ip' || e.protocols.includes(d.protocol) || d.type === 'new_protocol')
        return e;
    }
  }
  return undefined;
}

/** What "learn this" would make normal, for a person to confirm before it happens. */
export interface AcceptPreview {
  /** 'src → dst', the protocol, and the function and addresses when the detection names them. */
  pair: string;
  protocol: string;
  function: string | null;
  addresses: string[];
  addressCount: number;
  /** One sentence: what becomes normal. */
  becomesNormal: string;
  /** Reasons to think twice (severity, an unknown source); a learn with any of them needs an explicit confirmation. */
  warnings: string[];
}

/** Addresses shown in a preview; the evidence keeps the rest. */
const PREVIEW_ADDRESSES = 20;

/** Describe what acceptIntoBaseline(b, d) would learn; null when the detection is an event that cannot be learned. */
export function previewAccept(b: Baseline | null, d: Detection): AcceptPreview | null {
  const f = d.evidence.fields;
  const pair = `${d.src} → ${d.dst}`;
  const fn =
    typeof f.func_name === 'string' && f.func_name
      ? f.func_name
      : f.func !== undefined
        ? `${d.protocol} ${String(f.func)}`
        : null;
  const all = Array.isArray(f.points)
    ? (f.points as string[])
    : d.type === 'write_new_range'
      ? [
          `${String(f.space)}:${String(f.start)}${Number(f.count) > 1 ? `..${Number(f.start) + Number(f.count) - 1}` : ''}`,
        ]
      : d.type === 'value_out_of_range'
        ? [String(f.point)]
        : [];
  const addressCount = typeof f.points_count === 'number' ? f.points_count : all.length;
  const shown =
    all.slice(0, PREVIEW_ADDRESSES).join(', ') +
    (addressCount > PREVIEW_ADDRESSES ? `, … (${addressCount} in all)` : '');
  let becomesNormal: string;
  switch (d.type) {
    case 'new_asset':
      becomesNormal = `${d.src}${typeof f.mac === 'string' && f.mac ? ` (${f.mac})` : ''} becomes a known asset.`;
      break;
    case 'new_edge':
      becomesNormal = `${pair} over ${d.protocol} becomes a normal conversation (${String(f.edge)}).`;
      break;
    case 'new_protocol':
      becomesNormal = `${pair} may carry ${d.protocol}.`;
      break;
    case 'function_outside_profile':
      becomesNormal = `${pair} may use ${fn ?? d.detail}${all.length > 0 ? ` and write ${shown}` : ''}.`;
      break;
    case 'write_new_range':
      becomesNormal = `${pair} may write ${shown}${fn ? ` with ${fn}` : ''}.`;
      break;
    case 'value_out_of_range':
      becomesNormal = `the learned range of ${shown} on ${d.dst} widens to the values seen.`;
      break;
    case 'arp_spoofing':
      becomesNormal = `${String(f.ip)} is at ${String(f.claimed_by)} from now on.`;
      break;
    default:
      return null;
  }
  const warnings: string[] = [];
  if (d.severity === 'critical' || d.severity === 'high')
    warnings.push(
      `this is a ${d.severity} detection: learning it means the same behaviour will never alert again`,
    );
  if (b === null || !b.assets.includes(d.src))
    warnings.push(
      `the source ${d.src} is not in the baseline: an attacker's traffic would become normal`,
    );
  return {
    pair,
    protocol: d.protocol,
    function: fn,
    addresses: all.slice(0, PREVIEW_ADDRESSES),
    addressCount,
    becomesNormal,
    warnings,
  };
}
