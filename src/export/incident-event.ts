import { createHash } from 'node:crypto';
import { SEVERITY_RANK, type Severity } from '../detect/detection.js';
import type { Db } from '../store/db.js';
import { enqueueEvents, exportMarks, type ExportMarkRow } from '../store/export-store.js';
import { clip, type ExportEvent, type ExportSource } from './event.js';
import { DEFAULT_UPDATE_POLICY, type UpdatePolicy } from './detection-updates.js';

/**
 * The least an incident must carry to be exported. The incidents module provides it; anything richer it
 * holds (notes, timeline) stays in Weir — the SIEM gets the summary and the detection ids to pivot on.
 */
export interface IncidentLike {
  id: string;
  title: string;
  severity: Severity;
  status: string;
  tactics: readonly string[];
  techniques: readonly string[];
  /** Asset names (or addresses when unnamed). */
  assets: readonly string[];
  zones: readonly string[];
  /** Epoch seconds. */
  firstSeen: number;
  lastSeen: number;
  detectionIds: readonly string[];
}

/** An incident as export event number `update` (0: it was opened). The id is stable: `inc-<id>-<update>`. */
export function incidentEvent(
  inc: IncidentLike,
  update = 0,
  reason: ExportEvent['reason'] = update === 0 ? 'new' : 'changed',
): ExportEvent {
  return {
    id: `inc-${inc.id}-${update}`,
    kind: 'incident',
    subject: inc.id,
    update,
    reason,
    ts: inc.lastSeen,
    start: inc.firstSeen,
    end: inc.lastSeen,
    type: 'incident',
    name: clip(inc.title, 200),
    severity: inc.severity,
    count: inc.detectionIds.length,
    src: null,
    dst: null,
    dstPort: null,
    protocol: null,
    zones: [...inc.zones],
    techniques: [...inc.techniques],
    tactics: [...inc.tactics],
    status: inc.status,
    assets: [...inc.assets],
    detectionIds: [...inc.detectionIds],
    message: clip(
      `${inc.title} (${inc.status}; ${inc.detectionIds.length} detections${inc.tactics.length ? `; ${inc.tactics.join(' → ')}` : ''})`,
      1024,
    ),
  };
}

/** What of an incident, besides severity and its detections, a SIEM must hear about when it changes. */
function stateOf(inc: IncidentLike): string {
  const s = JSON.stringify([
    inc.status,
    [...inc.techniques].sort(),
    [...inc.tactics].sort(),
    [...inc.zones].sort(),
  ]);
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/**
 * Incidents as export events: one when an incident opens, one whenever its status, severity, tactics,
 * techniques or zones change (never rate limited: an analyst's decision is news), and one when the number of
 * its detections has at least doubled (rate limited as detection counts are). Remembered in the store.
 */
export class IncidentSource implements ExportSource<IncidentLike> {
  readonly kind = 'incident' as const;
  private marksRead: Map<string, ExportMarkRow> | null = null;

  constructor(
    private readonly db: Db | null = null,
    private readonly policy: UpdatePolicy = DEFAULT_UPDATE_POLICY,
  ) {}

  /** Read from the store the first time they are needed. */
  private get marks(): Map<string, ExportMarkRow> {
    this.marksRead ??= this.db !== null ? exportMarks(this.db, 'incident:') : new Map();
    return this.marksRead;
  }

  events(incs: readonly IncidentLike[]): ExportEvent[] {
    return this.decide(incs).events;
  }

  enqueue(incs: readonly IncidentLike[]): number {
    if (this.db === null) throw new Error('IncidentSource without a store cannot queue');
    const { events, marks } = this.decide(incs);
    if (events.length === 0) return 0;
    return enqueueEvents(
      this.db,
      events.map((e) => ({ id: e.id, kind: e.kind, doc: JSON.stringify(e) })),
      marks,
    );
  }

  private decide(incs: readonly IncidentLike[]): {
    events: ExportEvent[];
    marks: ExportMarkRow[];
  } {
    const events: ExportEvent[] = [];
    const marks: ExportMarkRow[] = [];
    for (const inc of incs) {
      const subject = `incident:${inc.id}`;
      const m = this.marks.get(subject);
      const state = stateOf(inc);
      const count = inc.detectionIds.length;
      let reason: ExportEvent['reason'] | null = null;
      if (m === undefined) reason = 'new';
      else if (m.state !== state) reason = 'status';
      else if (SEVERITY_RANK[inc.severity] !== SEVERITY_RANK[m.severity as Severity])
        reason = 'severity';
      else if (
        count >= m.count * this.policy.countFactor &&
        count > m.count &&
        inc.lastSeen - m.at >= this.policy.minIntervalSeconds
      )
        reason = 'count';
      if (reason === null) continue;
      const updates = m === undefined ? 0 : m.updates + 1;
      const mark: ExportMarkRow = {
        subject,
        updates,
        count,
        severity: inc.severity,
        at: inc.lastSeen,
        state,
      };
      this.marks.set(subject, mark);
      marks.push(mark);
      events.push(incidentEvent(inc, updates, reason));
    }
    return { events, marks };
  }
}
