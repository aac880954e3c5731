import type { Db } from '../store/db.js';
import { addMute, getDetection, latestBaseline, saveBaseline } from '../store/baseline-store.js';
import { appendAudit } from '../store/audit-store.js';
import { acceptIntoBaseline } from '../detect/accept.js';
import type { Detection } from '../detect/detection.js';
import { ChangeRefused } from './change-control.js';

/** What an analyst does with a detection, from the CLI or the dashboard; each step is audited. */
function detection(db: Db, id: string): Detection {
  const d = getDetection(db, id);
  if (d === null) throw new NotFound(`no detection ${id}`);
  return d;
}

export class NotFound extends Error {}

export function setDetectionStatus(db: Db, id: string, status: 'acknowledged' | 'open' | 'learned' | 'muted', actor: string, note = ''): void {
  detection(db, id);
  db.prepare('UPDATE detections SET status = ? WHERE id = ?').run(status, id);
  appendAudit(db, { actor, action: `detection.${status}`, subject: id, details: { note } });
}

/** "Learn this": a new baseline version in which the detected behaviour is normal. */
export function learnDetection(db: Db, id: string, actor: string, note = ''): { version: number } {
  const d = detection(db, id);
  const b = latestBaseline(db);
  if (b === null) throw new ChangeRefused('no baseline to extend');
  const next = acceptIntoBaseline(b, d, note);
  if (next === null) throw new ChangeRefused(`${d.type} is an event, not a profile: mute it instead`);
  saveBaseline(db, next);
  db.prepare("UPDATE detections SET status = 'learned' WHERE id = ?").run(id);
  appendAudit(db, { actor, action: 'detection.learned', subject: id, details: { baseline_version: next.version, type: d.type, note } });
  return { version: next.version };
}

/** Silence findings like this one (same type, source, destination and detail), for some days or for good. */
export function muteDetection(db: Db, id: string, actor: string, reason: string, days?: number): { mute: number } {
  const d = detection(db, id);
  const until = days ? Date.now() / 1000 + days * 86400 : undefined;
  const n = addMute(db, { type: d.type, src: d.src, dst: d.dst, ...(d.detail ? { detail: d.detail } : {}), ...(until ? { until } : {}) }, reason);
  db.prepare("UPDATE detections SET status = 'muted' WHERE id = ?").run(id);
  appendAudit(db, { actor, action: 'detection.muted', subject: id, details: { mute: n, reason, days: days ?? null } });
  return { mute: n };
}
