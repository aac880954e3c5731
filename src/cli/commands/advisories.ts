import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { appendAudit } from '../../store/audit-store.js';
import { advisoryCount } from '../../store/advisory-store.js';
import { importFeed, type ImportSummary } from '../../assess/advisories/import.js';
import { CAN } from '../../respond/roles.js';
import { asCaller, withIdentity, type IdentityOpts } from '../identity.js';
import { importBundleFile, isBundleFile } from '../bundle-import.js';

export function summaryLine(s: ImportSummary): string {
  return `${s.files} files: ${s.added} advisories added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.older} older than stored (kept the newer), ${s.rejected.length} rejected`;
}

export function registerAdvisories(program: Command): void {
  const cmd = program
    .command('advisories')
    .description('offline vulnerability advisories (CSAF 2.0)');
  withIdentity(cmd.command('import'))
    .argument(
      '<path>',
      'a CSAF archive (.tar.gz, .zip), a directory of CSAF JSON files, one file, or a signed Weir bundle',
    )
    .requiredOption('--db <path>', 'store to import into')
    .description('import advisories into the store (as the logged-in person; audited)')
    .action((p: string, opts: IdentityOpts & { db: string }) =>
      asCaller(opts.db, opts, CAN.updateKnowledge, 'import advisories', async (db, who) => {
        if (!existsSync(p)) throw new Error(`${p}: no such file or directory`);
        if (isBundleFile(p)) {
          const r = await importBundleFile(db, p, who.name);
          process.stdout.write(`${r.line}\n`);
          return;
        }
        const s = await importFeed(db, p);
        appendAudit(db, {
          actor: who.name,
          action: 'advisories.import',
          subject: p,
          details: {
            files: s.files,
            added: s.added,
            updated: s.updated,
            unchanged: s.unchanged,
            older: s.older,
            rejected: s.rejected.length,
          },
        });
        process.stdout.write(`${summaryLine(s)}; ${advisoryCount(db)} in the store\n`);
        for (const r of s.rejected.slice(0, 20))
          process.stderr.write(`rejected: ${r.file}: ${r.problem}\n`);
        if (s.rejected.length > 20)
          process.stderr.write(`rejected: … and ${s.rejected.length - 20} more\n`);
      }),
    );
}
