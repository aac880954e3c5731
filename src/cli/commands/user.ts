import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { addUser } from '../../store/change-store.js';
import { appendAudit } from '../../store/audit-store.js';
import { APPROVER_ROLES } from '../../policy/model.js';

export function registerUser(program: Command): void {
  const user = program.command('user').description('people who propose and approve changes, and their roles');
  user.command('add')
    .argument('<name>')
    .requiredOption('--role <roles...>', `one or more of ${APPROVER_ROLES.join(', ')}`)
    .requiredOption('--db <db>', 'store')
    .requiredOption('--as <user>', 'who adds them (for the audit log)')
    .action((name: string, opts: { role: string[]; db: string; as: string }) => {
      const bad = opts.role.filter((r) => !(APPROVER_ROLES as readonly string[]).includes(r));
      if (bad.length) throw new Error(`unknown role ${bad.join(', ')} (one of ${APPROVER_ROLES.join(', ')})`);
      const db = openStore(opts.db);
      try {
        addUser(db, name, opts.role);
        appendAudit(db, { actor: opts.as, action: 'user.added', subject: name, details: { roles: opts.role } });
        process.stdout.write(`${name}: ${opts.role.join(', ')}\n`);
      } finally {
        db.close();
      }
    });
}
