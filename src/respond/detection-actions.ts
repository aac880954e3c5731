import type { Db } from '../store/db.js';
import { addMute, getDetection, latestBaseline, saveBaseline } from '../store/baseline-store.js';
import { appendAudit } from '../store/audit-store.js';
import { acceptIntoBaseline, previewAccept, type AcceptPreview } from '../detect/accept.js';
import type { Detection } from '../detect/detection.js';
import { ChangeRefused } from './change-control.js';
import { audited } from './audited.js';

/**
 * What an analyst does with a detection, from the CLI or the dashboard; each step is written with its audit
 * entry in one transaction.
 */
function detection(db: Db, id: string): Detection {
  const d = getDetection(db, id);
  if (d === null) throw new NotFound(`no detection ${id}`);
  return d;
}

export class NotFound extends Error {}

export function setDetectionStatus(
  db: Db,
  id: string,
  status: 'acknowledged' | 'open' | 'learned' | 'muted',
  actor: string,
  note = '',
): void {
  audited(db, () => {
    detection(db, id);
    db.prepare('UPDATE detections SET status = ? WHERE id = ?').run(status, id);
    appendAudit(db, { actor, action: `detection.${status}`, subject: id, details: { note } });
  });
}

/** What learning a detection would make normal (pair, function, addresses) and why to think twice. */
export function learnPreview(db: Db, id: string): AcceptPreview {
  const d = detection(db, id);
  const p = previewAccept(latestBaseline(db), d);
  if (p === null) throw new ChangeRefused(`${d.type} is an event, not a profile: mute it instead`);
  return p;
}

/**
 * "Learn this": a new baseline version in which the detected behaviour is normal. A learn the preview warns
 * about (a high or critical detection, a source outside the baseline) needs `confirm`: one click must not
 * whitelist an attacker's write.
 */
export function learnDetection(
  db: Db,
  id: string,
  actor: string,
  note = '',
  confirm = false,
): { version: number; preview: AcceptPreview } {
  const d = detection(db, id);
  const b = latestBaseline(db);
  if (b === null) throw new ChangeRefused('no baseline to extend');
  const preview = previewAccept(b, d);
  if (preview === null)
    throw new ChangeRefused(`${d.type} is an event, not a profile: mute it instead`);
  if (preview.warnings.length > 0 && !confirm) {
    throw new ChangeRefused(
      `learning this needs an explicit confirmation: ${preview.becomesNormal} Warning: ${preview.warnings.join('; ')}.`,
    );
  }
  const next = acceptIntoBaseline(b, d, note);
  if (next === null)
    throw new ChangeRefused(
      `${preview.pair} is not an edge of the baseline: learn its new_edge detection first`,
    );
  audited(db, () => {
    saveBaseline(db, next);
    db.prepare("UPDATE detections SET status = 'learned' WHERE id = ?").run(id);
    appendAudit(db, {
      actor,
      action: 'detection.learned',
      subject: id,
      details: {
        baseline_version: next.version,
        type: d.type,
        note,
        becomes_normal: preview.becomesNormal,
        warnings: preview.warnings,
        confirmed: confirm,
      },
    });
  });
  return { version: next.version, preview };
}

/** Silence findings like this one (same type, source, destination and detail), for some days or for good. */
export function muteDetection(
  db: Db,
  id: string,
  actor: string,
  reason: string,
  days?: number,
): { mute: number } {
  const d = detection(db, id);
  const until = days ? Date.now() / 1000 + days * 86400 : undefined;
  const mute = {
    type: d.type,
    src: d.src,
    dst: d.dst,
    ...(d.detail ? { detail: d.detail } : {}),
    ...(until ? { until } : {}),
  };
  return audited(db, () => {
    const n = addMute(db, mute, reason);
    db.prepare("UPDATE detections SET status = 'muted' WHERE id = ?").run(id);
    appendAudit(db, {
      actor,
      action: 'detection.muted',
      subject: id,
      details: { mute: n, reason, days: days ?? null },
    });
    return { mute: n };
  });
}

/**
 * Undo mute: remove the mutes made from this detection (same type, source, destination and detail) so such
 * findings alert again, and reopen it.
 */
export function unmuteDetection(
  db: Db,
  id: string,
  actor: string,
  reason = '',
): { unmuted: number[] } {
  const d = detection(db, id);
  const rows = db
    .prepare('SELECT id FROM mutes WHERE type IS ? AND src IS ? AND dst IS ? AND detail IS ?')
    .all(d.type, d.src, d.dst, d.detail || null) as Array<{ id: number }>;
  if (rows.length === 0) throw new ChangeRefused(`no mute covers ${d.type} ${d.src} → ${d.dst}`);
  const ids = rows.map((r) => r.id);
  audited(db, () => {
    const del = db.prepare('DELETE FROM mutes WHERE id = ?');
    for (const m of ids) del.run(m);
    db.prepare("UPDATE detections SET status = 'open' WHERE id = ? AND status = 'muted'").run(id);
    appendAudit(db, {
      actor,
      action: 'detection.unmuted',
      subject: id,
      details: { mutes: ids, reason },
    });
  });
  return { unmuted: ids };
}
