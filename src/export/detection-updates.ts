import { SEVERITY_RANK, type Detection, type Severity } from '../detect/detection.js';
import { clip, type ExportEvent } from './event.js';

/** What was last exported about one detection. */
export interface Mark {
  updates: number;
  count: number;
  severity: Severity;
  /** Detection time (epoch s) of the last event, for the rate limit. */
  at: number;
}

/** When a folded detection deserves another event. */
export interface UpdatePolicy {
  /** The count must grow by this factor since the last event (2: 1, 2, 4, 8, … hits). */
  countFactor: number;
  /** At most one count update per detection per this many seconds of detection time. */
  minIntervalSeconds: number;
}

export const DEFAULT_UPDATE_POLICY: UpdatePolicy = { countFactor: 2, minIntervalSeconds: 300 };

/**
 * The next event for a detection, or null when nothing material changed. A new detection always gets one (so
 * no distinct detection is ever lost to aggregation); a worse severity always gets one (never hide an
 * escalation); a growing count gets one when it has at least doubled and the last event is older than the rate
 * limit. Detection time, not wall time, drives the limit: a replay decides as the live run did.
 */
export function nextUpdate(
  d: Detection,
  mark: Mark | undefined,
  policy: UpdatePolicy = DEFAULT_UPDATE_POLICY,
): { reason: ExportEvent['reason']; mark: Mark } | null {
  const now = d.lastTs;
  if (mark === undefined)
    return { reason: 'new', mark: { updates: 0, count: d.count, severity: d.severity, at: now } };
  const next = (): Mark => ({
    updates: mark.updates + 1,
    count: d.count,
    severity: d.severity,
    at: now,
  });
  if (SEVERITY_RANK[d.severity] > SEVERITY_RANK[mark.severity])
    return { reason: 'severity', mark: next() };
  if (
    d.count >= mark.count * policy.countFactor &&
    d.count > mark.count &&
    now - mark.at >= policy.minIntervalSeconds
  )
    return { reason: 'count', mark: next() };
  return null;
}

/** The destination port of a detection, when its evidence names one. */
function portOf(d: Detection): number | null {
  const f = d.evidence.fields;
  if (typeof f.port === 'number') return f.port;
  if (typeof f.edge === 'string') {
    const m = /:(\d+)$/.exec(f.edge);
    if (m) return Number(m[1]);
  }
  return null;
}

const TITLE: Partial<Record<string, string>> = {
  new_asset: 'New asset',
  new_edge: 'New communication',
  port_scan: 'Port scan',
  host_scan: 'Host scan',
  cpu_stop: 'PLC CPU stop',
  program_download: 'Program download',
};

/** A detection (optionally carrying ATT&CK technique ids) as one export event of update number `update`. */
export function detectionEvent(
  d: Detection & { techniques?: readonly string[]; tactics?: readonly string[] },
  update: number,
  reason: ExportEvent['reason'],
): ExportEvent {
  const title = TITLE[d.type] ?? d.type.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
  return {
    id: `det-${d.id}-${update}`,
    kind: 'detection',
    subject: d.id,
    update,
    reason,
    ts: d.lastTs,
    start: d.ts,
    end: d.lastTs,
    type: d.type,
    name: `${title}: ${d.src} → ${d.dst}${d.protocol ? ` (${d.protocol})` : ''}`,
    severity: d.severity,
    count: d.count,
    src: d.src || null,
    dst: d.dst || null,
    dstPort: portOf(d),
    protocol: d.protocol || null,
    zones: d.zone ? [d.zone] : [],
    techniques: [...(d.techniques ?? [])],
    tactics: [...(d.tactics ?? [])],
    status: null,
    assets: [],
    detectionIds: [d.id],
    message: clip(d.explanation, 1024),
  };
}
