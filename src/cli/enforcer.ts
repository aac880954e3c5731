import { openStore } from '../store/db.js';
import { appendAudit } from '../store/audit-store.js';
import { CAN } from '../respond/roles.js';
import { asCaller, type Caller, type IdentityOpts } from './identity.js';

/** Callers proven for one command invocation (keyed by its options object), so its audit names them. */
const proven = new WeakMap<object, { db: string; caller: Caller }>();

/**
 * Every action on the enforcement host is made by a logged-in person allowed to enforce, and audited in the
 * store: without a store there is no audit, so there is no action.
 */
export async function proveEnforcer(
  o: IdentityOpts & { db?: string },
  what: string,
): Promise<Caller> {
  if (!o.db)
    throw new Error(
      `${what} needs --db STORE: every enforcement action is audited there, by a logged-in person (weir login)`,
    );
  const caller = await asCaller(o.db, o, CAN.enforce, what, (_db, c) => c);
  proven.set(o, { db: o.db, caller });
  return caller;
}

/** Record an enforcement action of a proven caller; an action nobody proved is a bug, not a silent gap. */
export function auditEnforcement(
  o: object,
  action: string,
  subject: string,
  details: Record<string, unknown>,
): void {
  const p = proven.get(o);
  if (p === undefined)
    throw new Error(`internal: ${action} was carried out without a proven caller`);
  const db = openStore(p.db);
  try {
    appendAudit(db, { actor: p.caller.name, action, subject, details });
  } finally {
    db.close();
  }
}

/** Carry out an enforcement step and audit it — a failure too, then report it. */
export async function carryOut<T>(
  o: object,
  action: string,
  subject: string,
  details: Record<string, unknown>,
  step: () => T | Promise<T>,
): Promise<T> {
  let r: T;
  try {
    r = await step();
  } catch (err) {
    auditEnforcement(o, `${action}.failed`, subject, { ...details, error: (err as Error).message });
    throw err;
  }
  auditEnforcement(o, action, subject, details);
  return r;
}
