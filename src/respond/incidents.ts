import { createHash } from 'node:crypto';
import { SEVERITY_RANK, type Detection } from '../detect/detection.js';
import { tacticsOf, techniquesFor } from '../detect/attack-map.js';
import type { Incident, IncidentStep } from '../detect/incident.js';
import {
  describeIncident,
  isHostAddress,
  stageOf,
  type IncidentLookups,
} from './incident-facts.js';

export interface CorrelateOptions extends IncidentLookups {
  /** A detection joins an incident whose last detection is at most this many seconds older. Default 3600. */
  windowSeconds?: number;
  /** An incident takes no new detections once it spans this long (a daily chain is a pattern, not a case). */
  maxSpanSeconds?: number;
  /** Wall clock for updatedAt (tests pin it). */
  now?: () => string;
}

/** Steps kept on one timeline; detectionIds still lists every detection. */
export const MAX_TIMELINE = 1000;

const STAGE_DISCOVERY = stageOf('discovery');

/**
 * Does this detection act on its target (beyond looking at it)? Then other sources acting on the same target
 * in the same window belong to the same incident: the target is under attack.
 */
function actsOnTarget(d: Detection, tactics: readonly string[]): boolean {
  if (!isHostAddress(d.dst)) return false;
  if (SEVERITY_RANK[d.severity] >= SEVERITY_RANK.high) return true;
  return tactics.some((t) => stageOf(t) > STAGE_DISCOVERY);
}

function stepOf(d: Detection): IncidentStep {
  const techniques = d.techniques ?? techniquesFor(d);
  return {
    detectionId: d.id,
    type: d.type,
    severity: d.severity,
    ts: d.ts,
    lastTs: d.lastTs,
    count: d.count,
    src: d.src,
    dst: d.dst,
    protocol: d.protocol,
    zone: d.zone,
    techniques: [...techniques],
    tactics: [...new Set(techniques.flatMap((t) => tacticsOf(t)))],
    explanation: d.explanation,
    evidence: d.evidence,
  };
}

function incidentId(firstDetection: string): string {
  return `inc-${createHash('sha256').update(firstDetection).digest('hex').slice(0, 12)}`;
}

/**
 * Folds detections into incidents: a detection joins an incident (not closed, recent enough) when it comes
 * from one of its sources, acts on one of the targets the incident already acts on, or is the reply direction
 * of a conversation in it. When a detection links
 * several incidents they merge into the oldest. Pure: the caller loads the incidents that may still change and
 * stores what `takeChanges` returns.
 */
export class IncidentCorrelator {
  private readonly incidents = new Map<string, Incident>();
  private readonly byDetection = new Map<string, string>();
  /** Address → incidents that address takes part in (as source, target or peer): candidates, never O(all). */
  private readonly byAddress = new Map<string, Set<string>>();
  private readonly changed = new Set<string>();
  private readonly removed = new Set<string>();
  private readonly window: number;
  private readonly maxSpan: number;
  private readonly now: () => string;

  constructor(
    private readonly opts: CorrelateOptions,
    existing: Iterable<Incident> = [],
  ) {
    this.window = opts.windowSeconds ?? 3600;
    this.maxSpan = opts.maxSpanSeconds ?? 86_400;
    this.now = opts.now ?? (() => new Date().toISOString());
    for (const i of existing) {
      this.incidents.set(i.id, i);
      this.index(i);
      for (const d of i.detectionIds) this.byDetection.set(d, i.id);
    }
  }

  /** Add detections (any order; time order gives the natural grouping). */
  addAll(ds: Iterable<Detection>): void {
    for (const d of [...ds].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1))) this.add(d);
  }

  /** File one detection: update its step if it is already filed, else join or open an incident. */
  add(d: Detection): Incident {
    const filed = this.byDetection.get(d.id);
    if (filed !== undefined) {
      const inc = this.incidents.get(filed)!;
      const step = inc.timeline.find((s) => s.detectionId === d.id);
      if (step !== undefined) Object.assign(step, stepOf(d));
      inc.lastSeen = Math.max(inc.lastSeen, d.lastTs);
      this.touch(inc);
      return inc;
    }
    const step = stepOf(d);
    const acts = actsOnTarget(d, step.tactics);
    const candidates = new Set<string>();
    for (const a of [d.src, d.dst])
      for (const id of this.byAddress.get(a) ?? []) candidates.add(id);
    const joins = [...candidates]
      .map((id) => this.incidents.get(id)!)
      .filter(
        (i) =>
          i.status !== 'closed' &&
          d.ts <= i.lastSeen + this.window &&
          d.ts >= i.firstSeen - this.window &&
          d.ts - i.firstSeen <= this.maxSpan &&
          (i.sources.includes(d.src) ||
            (acts && i.targets.includes(d.dst)) ||
            // The other direction of a conversation already in the incident (an outstation's replies).
            i.timeline.some((s) => s.src === d.dst && s.dst === d.src)),
      )
      .sort((a, b) => a.firstSeen - b.firstSeen || (a.id < b.id ? -1 : 1));
    let inc = joins[0];
    if (inc === undefined) {
      inc = {
        id: incidentId(d.id),
        title: '',
        severity: d.severity,
        status: 'open',
        statusBy: null,
        statusAt: null,
        tactics: [],
        techniques: [],
        assets: [],
        zones: [],
        sources: [],
        targets: [],
        firstSeen: d.ts,
        lastSeen: d.lastTs,
        updatedAt: '',
        detectionIds: [],
        timeline: [],
        notes: [],
        newSinceStatus: 0,
      };
      this.incidents.set(inc.id, inc);
    }
    for (const other of joins.slice(1)) this.absorb(inc, other);
    this.place(inc, step, acts);
    this.touch(inc);
    return inc;
  }

  private place(inc: Incident, step: IncidentStep, acts: boolean): void {
    inc.detectionIds.push(step.detectionId);
    this.byDetection.set(step.detectionId, inc.id);
    this.indexAddress(step.src, inc.id);
    this.indexAddress(step.dst, inc.id);
    if (inc.timeline.length < MAX_TIMELINE) {
      const last = inc.timeline[inc.timeline.length - 1];
      inc.timeline.push(step);
      // Detections mostly arrive in time order: sort only when one does not.
      if (
        last !== undefined &&
        (last.ts > step.ts || (last.ts === step.ts && last.detectionId > step.detectionId))
      )
        inc.timeline.sort((a, b) => a.ts - b.ts || (a.detectionId < b.detectionId ? -1 : 1));
    }
    if (!inc.sources.includes(step.src)) inc.sources.push(step.src);
    if (acts && !inc.targets.includes(step.dst)) inc.targets.push(step.dst);
    inc.firstSeen = Math.min(inc.firstSeen, step.ts);
    inc.lastSeen = Math.max(inc.lastSeen, step.lastTs);
    if (inc.statusBy !== null) inc.newSinceStatus++;
  }

  /** Move another incident's detections and notes into `into`; the other is removed from the store. */
  private absorb(into: Incident, other: Incident): void {
    const onTimeline = new Set(other.timeline.map((st) => st.detectionId));
    for (const st of other.timeline) this.place(into, st, false);
    // Detections past the timeline's cap are only ids: move them too.
    for (const id of other.detectionIds)
      if (!onTimeline.has(id)) {
        into.detectionIds.push(id);
        this.byDetection.set(id, into.id);
      }
    for (const a of [...other.sources, ...other.targets]) this.indexAddress(a, into.id);
    for (const a of other.sources) if (!into.sources.includes(a)) into.sources.push(a);
    for (const a of other.targets) if (!into.targets.includes(a)) into.targets.push(a);
    into.notes.push(...other.notes);
    into.notes.sort((a, b) => (a.at < b.at ? -1 : 1));
    if (into.statusBy === null && other.statusBy !== null) {
      into.status = other.status;
      into.statusBy = other.statusBy;
      into.statusAt = other.statusAt;
    }
    this.incidents.delete(other.id);
    for (const ids of this.byAddress.values()) ids.delete(other.id);
    this.changed.delete(other.id);
    this.removed.add(other.id);
  }

  private index(i: Incident): void {
    for (const a of [...i.sources, ...i.targets]) this.indexAddress(a, i.id);
    for (const st of i.timeline) {
      this.indexAddress(st.src, i.id);
      this.indexAddress(st.dst, i.id);
    }
  }

  private indexAddress(a: string, id: string): void {
    let ids = this.byAddress.get(a);
    if (ids === undefined) {
      ids = new Set();
      this.byAddress.set(a, ids);
    }
    ids.add(id);
  }

  private touch(inc: Incident): void {
    describeIncident(inc, this.opts);
    inc.updatedAt = this.now();
    this.changed.add(inc.id);
    this.removed.delete(inc.id);
  }

  /** Incidents changed and removed (absorbed) since the last call. */
  takeChanges(): { changed: Incident[]; removed: string[] } {
    const changed = [...this.changed].map((id) => this.incidents.get(id)!).filter(Boolean);
    const removed = [...this.removed];
    this.changed.clear();
    this.removed.clear();
    return { changed, removed };
  }

  all(): Incident[] {
    return [...this.incidents.values()].sort((a, b) => a.firstSeen - b.firstSeen);
  }

  incidentOf(detectionId: string): Incident | undefined {
    const id = this.byDetection.get(detectionId);
    return id === undefined ? undefined : this.incidents.get(id);
  }
}
