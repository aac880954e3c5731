import { createHash } from 'node:crypto';
import type { Severity } from '../detect/detection.js';
import { clip, type ExportEvent } from './event.js';

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

/**
 * An incident as an export event. Its id is a digest of the state a SIEM cares about (status, severity,
 * techniques, detections), so the same state is never sent twice and every change is sent once.
 */
export function incidentEvent(inc: IncidentLike, update = 0): ExportEvent {
  const state = JSON.stringify([
    inc.status,
    inc.severity,
    [...inc.techniques].sort(),
    [...inc.detectionIds].sort(),
  ]);
  const digest = createHash('sha256').update(state).digest('hex').slice(0, 12);
  return {
    id: `inc-${inc.id}-${digest}`,
    kind: 'incident',
    subject: inc.id,
    update,
    reason: update === 0 ? 'new' : 'changed',
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
