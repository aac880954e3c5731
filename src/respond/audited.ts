import type { Db } from '../store/db.js';
import { anchorAudit } from '../store/audit-store.js';

/**
 * Run a state change and the audit entries it writes as one transaction (taking the write lock at once), so
 * there is never a change without its entry nor an entry without its change; then anchor the audit head,
 * which can only be done once the entry is committed.
 */
export function audited<T>(db: Db, change: () => T): T {
  const out = db.transaction(change).immediate();
  anchorAudit(db);
  return out;
}
