import type { Command } from 'commander';
import { createSession, deleteSession, sessionOf } from '../../store/session-store.js';
import { appendAudit } from '../../store/audit-store.js';
import { newToken, tokenHash } from '../../server/passwords.js';
import { checkPassword, openExistingStore } from '../identity.js';
import { defaultTokenFile, loadToken, removeToken, saveToken } from '../token-file.js';
import { passwordFromStdin, promptPassword } from '../password-input.js';
import { cliSettings } from '../settings.js';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description(
      "prove who you are to a store (the dashboard's users and passwords); later commands use the session",
    )
    .requiredOption('--db <db>', 'store')
    .requiredOption('--user <name>', 'your user name')
    .option(
      '--password-stdin',
      'read the password from standard input (otherwise it is asked for on the terminal)',
    )
    .option(
      '--token-file <file>',
      'where to keep the session token (default: a per-user file for this store)',
    )
    .action(
      async (o: { db: string; user: string; passwordStdin?: boolean; tokenFile?: string }) => {
        const db = openExistingStore(o.db);
        try {
          const password =
            o.passwordStdin || !process.stdin.isTTY
              ? passwordFromStdin()
              : await promptPassword(`password for ${o.user}: `);
          const caller = await checkPassword(db, o.user, password);
          const { token, hash } = newToken();
          // A CLI session (settings cli.session_s) is shorter than a dashboard one: a token file outlives
          // the terminal that made it.
          const expires = Date.now() / 1000 + cliSettings().cli.session_s;
          const file = o.tokenFile ?? defaultTokenFile(o.db);
          createSession(db, hash, caller.name, expires);
          saveToken(file, token);
          appendAudit(db, {
            actor: caller.name,
            action: 'login',
            subject: 'cli',
            details: { until: new Date(expires * 1000).toISOString() },
          });
          process.stdout.write(
            `logged in as ${caller.name} (${caller.roles.join(', ') || 'no role'}) until ${new Date(expires * 1000).toISOString()}\n`,
          );
        } finally {
          db.close();
        }
      },
    );

  program
    .command('logout')
    .description('end your CLI session on a store')
    .requiredOption('--db <db>', 'store')
    .option('--token-file <file>', 'session token file (default: the one for this store)')
    .action((o: { db: string; tokenFile?: string }) => {
      const file = o.tokenFile ?? defaultTokenFile(o.db);
      const token = loadToken(file);
      if (token === null) {
        process.stdout.write('not logged in\n');
        return;
      }
      const db = openExistingStore(o.db);
      try {
        const user = sessionOf(db, tokenHash(token))?.name ?? null;
        deleteSession(db, tokenHash(token));
        if (user !== null)
          appendAudit(db, { actor: user, action: 'logout', subject: 'cli', details: {} });
      } finally {
        db.close();
      }
      removeToken(file);
      process.stdout.write('logged out\n');
    });
}
