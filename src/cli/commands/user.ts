import type { Command } from 'commander';
import { openStore, type Db } from '../../store/db.js';
import { insertUser, setUserRoles, userRoles } from '../../store/change-store.js';
import { listUsers, setPasswordHash } from '../../store/session-store.js';
import { adminsWithPassword, anyUserWithPassword } from '../../store/user-accounts.js';
import { deleteSessionsOf, removeUser } from '../../store/session-store.js';
import { anchorAudit, appendAudit } from '../../store/audit-store.js';
import { CAN, isUserRole, USER_ROLES } from '../../respond/roles.js';
import { hashPassword } from '../../server/passwords.js';
import { asCaller, NotAuthorized, withIdentity, type Caller } from '../identity.js';
import { passwordFromStdin, promptPassword } from '../password-input.js';
import { changeOwnPassword } from '../../respond/users.js';
import { renderColumns } from '../columns.js';

interface AddOpts {
  role: string[];
  db: string;
  as?: string;
  tokenFile?: string;
  passwordStdin?: boolean;
}

/** The last admin who can log in must stay, or nobody could manage users again. */
function keepAnAdmin(db: Db, name: string, roles: string[] | null): void {
  const admins = adminsWithPassword(db);
  if (admins.length === 1 && admins[0] === name && !(roles ?? []).includes('admin'))
    throw new NotAuthorized(`${name} is the last admin who can log in; add another admin first`);
}

/** The first admin of a fresh store adds themselves; checked and written under the write lock, so only one wins. */
function bootstrap(db: Db, name: string, roles: string[], hash: string | null): boolean {
  return db
    .transaction(() => {
      if (anyUserWithPassword(db)) return false;
      if (!roles.includes('admin') || hash === null)
        throw new NotAuthorized(
          'the store has no user who can log in yet: the first user is an admin with a password (weir user add NAME --role admin --password-stdin)',
        );
      if (userRoles(db, name) === null) insertUser(db, name, roles);
      else setUserRoles(db, name, roles);
      setPasswordHash(db, name, hash);
      appendAudit(db, {
        actor: name,
        action: 'user.added',
        subject: name,
        details: { roles, password_set: true, bootstrap: true },
      });
      return true;
    })
    .immediate();
}

/** An admin adds a person, or changes an existing person's roles or password — each change audited, their sessions ended. */
function addOrChange(
  db: Db,
  caller: Caller,
  name: string,
  roles: string[],
  hash: string | null,
): string {
  const before = userRoles(db, name);
  if (before === null) {
    insertUser(db, name, roles);
    if (hash !== null) setPasswordHash(db, name, hash, caller.name);
    appendAudit(db, {
      actor: caller.name,
      action: 'user.added',
      subject: name,
      details: { roles, password_set: hash !== null },
    });
    return 'added';
  }
  const changed: string[] = [];
  if (JSON.stringify([...before].sort()) !== JSON.stringify([...roles].sort())) {
    keepAnAdmin(db, name, roles);
    setUserRoles(db, name, roles);
    appendAudit(db, {
      actor: caller.name,
      action: 'user.roles_changed',
      subject: name,
      details: { from: before, to: roles },
    });
    changed.push(`roles were ${before.join(', ')}`);
  }
  if (hash !== null) {
    setPasswordHash(db, name, hash, caller.name);
    appendAudit(db, {
      actor: caller.name,
      action: 'user.password_set',
      subject: name,
      details: {},
    });
    changed.push('password changed');
  }
  if (changed.length === 0) return 'unchanged';
  const ended = deleteSessionsOf(db, name);
  return `${changed.join('; ')}${ended ? `; ${ended} session(s) ended` : ''}`;
}

export function registerUser(program: Command): void {
  const user = program
    .command('user')
    .description(
      'people who use Weir, their roles and passwords (the dashboard and the CLI share them)',
    );
  withIdentity(user.command('add'), { passwordStdin: false })
    .description(
      'add a user, or change their roles or password (admin only; on a fresh store, the first admin adds themselves)',
    )
    .argument('<name>')
    .requiredOption('--role <roles...>', `one or more of ${USER_ROLES.join(', ')}`)
    .requiredOption('--db <db>', 'store')
    .option('--password-stdin', "read the new user's password (≥12 characters) from standard input")
    .action(async (name: string, opts: AddOpts) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
        throw new Error('a user name is 1-64 letters, digits, _ . or -');
      const bad = opts.role.filter((r) => !isUserRole(r));
      if (bad.length)
        throw new Error(`unknown role ${bad.join(', ')} (one of ${USER_ROLES.join(', ')})`);
      const roles = [...new Set(opts.role)];
      const password = opts.passwordStdin ? passwordFromStdin() : null;
      if (password !== null && password.length < 12)
        throw new Error('a password has at least 12 characters');
      const hash = password !== null ? await hashPassword(password) : null;
      const db = openStore(opts.db);
      let done: string;
      try {
        done = bootstrap(db, name, roles, hash) ? 'first admin' : '';
        anchorAudit(db);
      } finally {
        db.close();
      }
      if (done === '')
        done = await asCaller(
          opts.db,
          { as: opts.as, tokenFile: opts.tokenFile },
          CAN.manageUsers,
          'manage users',
          (d, caller) => {
            const r = d.transaction(() => addOrChange(d, caller, name, roles, hash)).immediate();
            anchorAudit(d);
            return r;
          },
        );
      process.stdout.write(
        `${name}: ${roles.join(', ')}${hash !== null ? ' (password set)' : ''} — ${done}\n`,
      );
    });

  withIdentity(user.command('passwd'), { passwordStdin: false })
    .description(
      'set your own password (after an admin set it, your approvals count only once you have)',
    )
    .requiredOption('--db <db>', 'store')
    .option('--password-stdin', 'read the new password (≥12 characters) from standard input')
    .action(async (opts: AddOpts) => {
      const password = opts.passwordStdin
        ? passwordFromStdin()
        : await promptPassword('new password: ');
      if (password.length < 12) throw new Error('a password has at least 12 characters');
      const hash = await hashPassword(password);
      const who = await asCaller(
        opts.db,
        { as: opts.as, tokenFile: opts.tokenFile },
        null,
        'set a password',
        (db, caller) => {
          changeOwnPassword(db, { name: caller.name, passwordHash: hash });
          return caller.name;
        },
      );
      process.stdout.write(`${who}: password set; log in again\n`);
    });

  withIdentity(user.command('remove'))
    .description(
      'remove a user and end their sessions (admin only); their approvals and audit entries stay',
    )
    .argument('<name>')
    .requiredOption('--db <db>', 'store')
    .action(
      (
        name: string,
        opts: { db: string; as?: string; tokenFile?: string; passwordStdin?: boolean },
      ) =>
        asCaller(opts.db, opts, CAN.manageUsers, 'manage users', (db, caller) => {
          const roles = userRoles(db, name);
          if (roles === null) throw new Error(`no user ${name}`);
          keepAnAdmin(db, name, null);
          removeUser(db, name);
          appendAudit(db, {
            actor: caller.name,
            action: 'user.removed',
            subject: name,
            details: { roles },
          });
          process.stdout.write(`${name} removed\n`);
        }),
    );

  withIdentity(user.command('list'))
    .description('list users and their roles (admin only)')
    .requiredOption('--db <db>', 'store')
    .action((opts: { db: string; as?: string; tokenFile?: string; passwordStdin?: boolean }) =>
      asCaller(opts.db, opts, CAN.manageUsers, 'list users', (db) => {
        process.stdout.write(
          `${renderColumns(
            ['name', 'roles', 'password', 'since'],
            listUsers(db).map((u) => [
              u.name,
              u.roles.join(', '),
              u.hasPassword ? 'set' : 'none',
              u.createdAt.slice(0, 19),
            ]),
          )}\n`,
        );
      }),
    );
}
