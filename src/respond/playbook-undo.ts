import type { Db } from '../store/db.js';
import { appendAudit } from '../store/audit-store.js';
import {
  getPlaybookAction,
  markPlaybookActionUndone,
  type PlaybookActionRow,
} from '../store/playbook-store.js';
import { ChangeRefused } from './change-control.js';
import { CAN } from './roles.js';
import { NotFound } from './detection-actions.js';
import {
  RestoreRefused,
  type PlaybookKernel,
  type RevokedPermit,
  type TemporaryPermit,
} from './playbook-kernel.js';

/**
 * A person takes back what a playbook did: the block is lifted, the revoked permit returns for the time it had
 * left. Only someone allowed to enforce may; it is audited with who, and the playbook does not block the same
 * address again within the block's time (the person judged it a false positive).
 */
export async function undoPlaybookAction(
  db: Db,
  s: { id: string; actor: string; roles: readonly string[] },
  kernel: PlaybookKernel,
  now = Date.now() / 1000,
): Promise<PlaybookActionRow> {
  const a = getPlaybookAction(db, s.id);
  const refuse = (why: string): never => {
    appendAudit(db, {
      actor: s.actor,
      action: 'playbook.undo_refused',
      subject: s.id,
      details: { reason: why },
    });
    throw new ChangeRefused(why);
  };
  if (!s.roles.some((r) => (CAN.enforce as readonly string[]).includes(r)))
    refuse(
      `${s.actor} (${s.roles.join(', ') || 'no role'}) may not undo playbook actions: that needs ${CAN.enforce.join(' or ')}`,
    );
  if (a === null) throw new NotFound(`no playbook action ${s.id}`);
  if (a.status === 'undone') refuse(`${a.id} was already undone by ${a.undoneBy} at ${a.undoneAt}`);
  if (a.status !== 'done')
    refuse(`${a.id} was ${a.status}, not carried out: nothing in the kernel to undo`);
  if (a.kind === 'notify') refuse(`${a.id} is a notice: there is nothing to undo`);
  const why = `undo of ${a.id} by ${s.actor}`;
  let restoredFor: number | null = null;
  try {
    if (a.kind === 'block_source') {
      if (a.expiresAt !== null && a.expiresAt <= now)
        refuse(`the block of ${a.target} by ${a.id} already ran out at ${iso(a.expiresAt)}`);
      await kernel.unblock(a.target, why);
    } else {
      const p = a.details.permit as Omit<TemporaryPermit, 'expiresIn'>;
      const until = a.details.permit_expires_at as number | null;
      restoredFor = until === null ? 3600 : Math.floor(until - now);
      if (restoredFor < 1)
        refuse(`the permit ${a.target} would have run out at ${iso(until!)}: nothing to restore`);
      const revoked = a.details.revoked as RevokedPermit | undefined;
      await kernel.restorePermit({ ...p, expiresIn: null }, restoredFor, why, revoked);
    }
  } catch (err) {
    if (err instanceof ChangeRefused) throw err;
    if (err instanceof RestoreRefused) refuse(err.message);
    appendAudit(db, {
      actor: s.actor,
      action: 'playbook.undo_failed',
      subject: a.id,
      details: { kind: a.kind, target: a.target, error: (err as Error).message },
    });
    throw err;
  }
  const at = new Date(now * 1000).toISOString();
  db.transaction(() => {
    markPlaybookActionUndone(db, a.id, s.actor, at);
    appendAudit(db, {
      actor: s.actor,
      action: 'playbook.undone',
      subject: a.id,
      details: {
        kind: a.kind,
        target: a.target,
        zone: a.zone,
        playbook: a.playbook,
        detection_id: a.detectionId,
        policy: a.policySha.slice(0, 12),
        ...(restoredFor !== null ? { permit_restored_for_s: restoredFor } : {}),
      },
    });
  })();
  return getPlaybookAction(db, a.id)!;
}

const iso = (s: number): string => new Date(s * 1000).toISOString();
