import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { addUser } from '../../store/change-store.js';
import { setPasswordHash } from '../../store/session-store.js';
import { appendAudit } from '../../store/audit-store.js';
import { isUserRole, USER_ROLES } from '../../respond/roles.js';
import { hashPassword } from '../../server/passwords.js';

export function registerUser(program: Command): void {
  const user = program.command('user').description('people who use Weir, their roles and passwords');
  user.command('add')
    .description('add a user or change their roles (first run: add an admin with --password-stdin)')
    .argument('<name>')
    .requiredOption('--role <roles...>', `one or more of ${USER_ROLES.join(', ')}`)
    .requiredOption('--db <db>', 'store')
    .option('--as <user>', 'who adds them (for the audit log)', 'setup')
    .option('--password-stdin', 'read a password (≥12 characters) from standard input, for logging in to the dashboard')
    .action(async (name: string, opts: { role: string[]; db: string; as: string; passwordStdin?: boolean }) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error('a user name is 1-64 letters, digits, _ . or -');
      const bad = opts.role.filter((r) => !isUserRole(r));
      if (bad.length) throw new Error(`unknown role ${bad.join(', ')} (one of ${USER_ROLES.join(', ')})`);
      const password = opts.passwordStdin ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : null;
      if (password !== null && password.length < 12) throw new Error('a password has at least 12 characters');
      const db = openStore(opts.db);
      try {
        addUser(db, name, opts.role);
        if (password !== null) setPasswordHash(db, name, await hashPassword(password));
        appendAudit(db, { actor: opts.as, action: 'user.added', subject: name, details: { roles: opts.role, password_set: password !== null } });
        process.stdout.write(`${name}: ${opts.role.join(', ')}${password !== null ? ' (password set)' : ''}\n`);
      } finally {
        db.close();
      }
    });
}
