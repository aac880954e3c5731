import type { Detection, Severity } from './detection.js';

/** Where an analyst stands on an incident. Moves forward only: open → acknowledged → contained → closed. */
export const INCIDENT_STATUSES = ['open', 'acknowledged', 'contained', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** An asset an incident involves: who acted (source) or who was acted on (target). */
export interface IncidentAsset {
  address: string;
  /** Name from the inventory (hostname, product) or null when the inventory does not know it. */
  name: string | null;
  role: string | null;
  zone: string | null;
  part: 'source' | 'target';
}

/** One detection on an incident's timeline, with its evidence. */
export interface IncidentStep {
  detectionId: string;
  type: Detection['type'];
  severity: Severity;
  ts: number;
  lastTs: number;
  count: number;
  src: string;
  dst: string;
  protocol: string;
  zone: string | null;
  techniques: string[];
  tactics: string[];
  explanation: string;
  evidence: Detection['evidence'];
}

export interface IncidentNote {
  at: string;
  by: string;
  text: string;
}

/** Detections that belong together (one actor, or one target under attack, close in time), as one case. */
export interface Incident {
  id: string;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  /** Who set the status and when (null while nobody has). */
  statusBy: string | null;
  statusAt: string | null;
  /** ATT&CK for ICS tactic shortnames in the order the incident reached them, and technique ids. */
  tactics: string[];
  techniques: string[];
  assets: IncidentAsset[];
  zones: string[];
  /** Addresses that acted, and addresses acted on beyond discovery (what later detections join by). */
  sources: string[];
  targets: string[];
  firstSeen: number;
  lastSeen: number;
  /** Wall-clock time of the last change (ISO 8601). */
  updatedAt: string;
  detectionIds: string[];
  /** Detections in time order (the first MAX_TIMELINE; detectionIds has them all). */
  timeline: IncidentStep[];
  notes: IncidentNote[];
  /** Detections that joined after the status was last set: new activity on an acknowledged case shows. */
  newSinceStatus: number;
}

/**
 * The small, stable shape other parts consume (SIEM export, fleet): no timeline, no evidence. Fields are only
 * ever added to it.
 */
export interface IncidentSummary {
  id: string;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  tactics: string[];
  techniques: string[];
  /** Asset names, or addresses when the inventory names none (as the SIEM export's IncidentLike wants). */
  assets: string[];
  zones: string[];
  firstSeen: number;
  lastSeen: number;
  detectionIds: string[];
  updatedAt: string;
}

export function incidentSummary(i: Incident): IncidentSummary {
  return {
    id: i.id,
    title: i.title,
    severity: i.severity,
    status: i.status,
    tactics: [...i.tactics],
    techniques: [...i.techniques],
    assets: i.assets.map((a) => a.name ?? a.address),
    zones: [...i.zones],
    firstSeen: i.firstSeen,
    lastSeen: i.lastSeen,
    detectionIds: [...i.detectionIds],
    updatedAt: i.updatedAt,
  };
}

export function isIncidentStatus(s: string): s is IncidentStatus {
  return (INCIDENT_STATUSES as readonly string[]).includes(s);
}
