import type { Severity } from '../detect/detection.js';

/**
 * One message for a SIEM: a detection's state worth telling (it appeared, its count or severity moved) or an
 * incident's. Formats render it; the queue stores it as JSON. `id` is stable: the same state always gets the
 * same id, across restarts, so a receiver can drop a re-sent copy by it.
 */
export interface ExportEvent {
  id: string;
  kind: 'detection' | 'incident';
  /** The detection's or incident's own id. */
  subject: string;
  /** 0 for the first event about the subject, then 1, 2, … */
  update: number;
  /** Why this event exists: the subject is new, or what moved since the last event about it. */
  reason: 'new' | 'count' | 'severity' | 'status' | 'changed';
  /** Epoch seconds: when the subject reached the state this event reports (its last occurrence). */
  ts: number;
  /** First and last occurrence of the subject, epoch seconds. */
  start: number;
  end: number;
  /** The detection type ('port_scan', …) or 'incident'. */
  type: string;
  /** A one-line title for the SIEM's event list. */
  name: string;
  severity: Severity;
  /** How many raw hits the subject folds (detections) or how many detections (incidents). */
  count: number;
  src: string | null;
  dst: string | null;
  dstPort: number | null;
  protocol: string | null;
  zones: string[];
  /** ATT&CK for ICS technique ids (T0846, …) and tactic names, when known. */
  techniques: string[];
  tactics: string[];
  /** Incident status (open / acknowledged / contained / closed); null for detections. */
  status: string | null;
  assets: string[];
  detectionIds: string[];
  /** The explanation an analyst reads. */
  message: string;
}

/**
 * Something that turns its records into export events: detection updates, incidents, and what comes next.
 * `events` is given the records that may have changed and returns only the events not yet produced
 * (it remembers what it produced in the store, so a restart produces nothing twice).
 */
export interface ExportSource<T> {
  readonly kind: ExportEvent['kind'];
  events(records: readonly T[]): ExportEvent[];
}

/** Syslog severity (RFC 5424 §6.2.1) for a Weir severity. */
export const SYSLOG_SEVERITY: Record<Severity, number> = {
  critical: 2,
  high: 3,
  medium: 4,
  low: 5,
  info: 6,
};

/** CEF and LEEF severities run 0–10. */
export const TEN_SCALE: Record<Severity, number> = {
  info: 1,
  low: 3,
  medium: 5,
  high: 8,
  critical: 10,
};

/** ECS event.severity is a number; Elastic's own rules use 21/47/73/99 for low…critical. */
export const ECS_SEVERITY: Record<Severity, number> = {
  info: 1,
  low: 21,
  medium: 47,
  high: 73,
  critical: 99,
};

/** Text cut to a bound so one event never outgrows a syslog message. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
