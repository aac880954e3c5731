import type { Db } from '../store/db.js';
import type { Detection, Severity } from '../detect/detection.js';
import { enqueueEvents, exportMarks, type ExportMarkRow } from '../store/export-store.js';
import type { ExportEvent, ExportSource } from './event.js';
import {
  DEFAULT_UPDATE_POLICY,
  detectionEvent,
  nextUpdate,
  type Mark,
  type UpdatePolicy,
} from './detection-updates.js';

const subjectOf = (id: string): string => `detection:${id}`;

/**
 * Turns folded detections into export events: one when a detection appears, more only when it changed
 * materially (see nextUpdate). Remembers what it produced — in memory, and in the store when it has one, in the
 * same transaction as the events, so a restart neither repeats nor skips an update.
 */
export class DetectionSource implements ExportSource<Detection> {
  readonly kind = 'detection' as const;
  private marksRead: Map<string, Mark> | null = null;

  constructor(
    private readonly db: Db | null = null,
    private readonly policy: UpdatePolicy = DEFAULT_UPDATE_POLICY,
  ) {}

  /** What was produced so far, read from the store the first time it is needed (a pure sender never needs it). */
  private get marks(): Map<string, Mark> {
    if (this.marksRead === null) {
      this.marksRead = new Map();
      if (this.db !== null)
        for (const [s, m] of exportMarks(this.db, 'detection:'))
          this.marksRead.set(s.slice(10), { ...m, severity: m.severity as Severity });
    }
    return this.marksRead;
  }

  /** The events these detections call for now (and remember them as produced). */
  events(ds: readonly Detection[]): ExportEvent[] {
    return this.decide(ds).events;
  }

  /** Produce and queue in the store; returns how many events were added. */
  enqueue(ds: readonly Detection[]): number {
    if (this.db === null) throw new Error('DetectionSource without a store cannot queue');
    const { events, marks } = this.decide(ds);
    if (events.length === 0) return 0;
    return enqueueEvents(
      this.db,
      events.map((e) => ({ id: e.id, kind: e.kind, doc: JSON.stringify(e) })),
      marks,
    );
  }

  /** Whether this detection's stored state may call for an event (cheap, before parsing its document). */
  mayChange(id: string, count: number, severity: string): boolean {
    const m = this.marks.get(id);
    return m === undefined || m.count !== count || m.severity !== severity;
  }

  private decide(ds: readonly Detection[]): { events: ExportEvent[]; marks: ExportMarkRow[] } {
    const events: ExportEvent[] = [];
    const marks: ExportMarkRow[] = [];
    for (const d of ds) {
      const u = nextUpdate(d, this.marks.get(d.id), this.policy);
      if (u === null) continue;
      this.marks.set(d.id, u.mark);
      events.push(detectionEvent(d, u.mark.updates, u.reason));
      marks.push({ subject: subjectOf(d.id), ...u.mark });
    }
    return { events, marks };
  }
}

/**
 * Queue what the store's detections call for (written there by `weir detect` or `weir serve`): the columns
 * are compared first, and only detections whose count or severity moved are parsed.
 */
export function enqueueStoredDetections(db: Db, source: DetectionSource): number {
  const rows = db
    .prepare('SELECT id, count, severity FROM detections ORDER BY ts, id')
    .all() as Array<{ id: string; count: number; severity: string }>;
  const doc = db.prepare('SELECT doc FROM detections WHERE id = ?');
  const changed: Detection[] = [];
  for (const r of rows)
    if (source.mayChange(r.id, r.count, r.severity))
      changed.push(JSON.parse((doc.get(r.id) as { doc: string }).doc) as Detection);
  return changed.length > 0 ? source.enqueue(changed) : 0;
}
