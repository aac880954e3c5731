import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { backupStoreFile, giveToFolderOwner, restoreStore } from '../../store/backup.js';
import { appendAudit, checkAudit } from '../../store/audit-store.js';

const AUDIT_KEY_NOTE =
  'the audit key (<store>.audit-key, or $WEIR_AUDIT_KEY) is deliberately not in the copy: keep a copy of it apart from the store backups';

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description(
      'copy a store while the server keeps writing it (SQLite online backup; a consistent snapshot, 0600)',
    )
    .requiredOption('--db <db>', 'store')
    .requiredOption('--to <file>', 'the backup file to create (never overwritten)')
    .action(async (o: { db: string; to: string }) => {
      const r = await backupStoreFile(o.db, o.to);
      process.stdout.write(
        `backed up ${o.db} to ${r.file}: ${r.pages} pages, ${r.bytes} bytes, schema ${r.schema}, checked\n`,
      );
      process.stderr.write(`weir: note: ${AUDIT_KEY_NOTE}\n`);
    });

  program
    .command('restore')
    .description(
      'put a backup in place of a store nobody has open (stop the services first); the replaced store is kept beside it',
    )
    .requiredOption('--from <file>', 'backup made by `weir backup` (or an upgrade)')
    .requiredOption('--db <db>', 'the store to replace')
    .action((o: { from: string; db: string }) => {
      const r = restoreStore(o.from, o.db);
      // Opening brings an older backup's schema up to date (taking its own copy first), then the restore is on
      // the record of the restored log: by the operating-system account, since the store's people are what
      // was just replaced.
      const db = openStore(o.db);
      try {
        appendAudit(db, {
          actor: `os:${userInfo().username}`,
          action: 'store.restored',
          subject: o.db,
          details: { from: o.from, schema: r.schema, previous: r.previous },
        });
        process.stdout.write(
          `restored ${o.db} from ${o.from} (schema ${r.schema})${r.previous ? `; the store it replaced is kept as ${r.previous}` : ''}\n`,
        );
        const audit = checkAudit(db);
        if (audit.status !== 'intact')
          process.stderr.write(
            `weir: the audit log reads '${audit.status}' after the restore${audit.problem ? ` (${audit.problem.problem})` : ''}: ` +
              'a restore rolls the log back, which its anchored head shows. An admin puts that on the record with ' +
              `\`weir policy audit --db ${o.db} --reanchor --reason "restored from backup"\`\n`,
          );
      } finally {
        db.close();
        giveToFolderOwner(o.db);
      }
    });
}
