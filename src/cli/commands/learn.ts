import type { Command } from 'commander';
import { Inventory } from '../../discover/inventory.js';
import { ValueRanges } from '../../discover/values.js';
import { baselineFrom } from '../../discover/baseline.js';
import { inventoryCounts, inventoryLine } from '../../discover/counts.js';
import { openStore } from '../../store/db.js';
import { openExistingStore, STORE_HINT } from '../identity.js';
import { nextBaselineVersion, saveBaseline } from '../../store/baseline-store.js';
import { between } from '../../dissect/stage.js';
import { cliSettings } from '../settings.js';
import { runCaptures, warnCaptureErrors } from '../run-capture.js';
import { parseTimeArg } from '../time-arg.js';

export function registerLearn(program: Command): void {
  program
    .command('learn')
    .description(
      'learn a baseline of normal from captures of known-good traffic (adds a new baseline version)',
    )
    .argument('<files...>', 'capture files (pcap/pcapng, "-" for stdin)')
    .requiredOption('--db <path>', 'SQLite store for the inventory and baselines')
    .option(
      '--note <text>',
      'why this baseline is trusted (who reviewed the traffic, which period)',
      '',
    )
    .option(
      '--create',
      'start a new store at --db when there is none (otherwise a missing store is an error: a mistyped path must not start a second one)',
    )
    .option(
      '--until <time>',
      'learn only from traffic before this time (ISO 8601, epoch seconds, or N% of the captures)',
    )
    .action(
      async (
        files: string[],
        opts: { db: string; note: string; until?: string; create?: boolean },
      ) => {
        const until = opts.until !== undefined ? parseTimeArg(opts.until, files) : Infinity;
        const db = opts.create ? openStore(opts.db) : openExistingStore(opts.db, STORE_HINT);
        try {
          // The baseline is what these captures show, nothing else: the stored inventory may hold traffic
          // nobody vouched for.
          const bounds = cliSettings().inventory;
          const inv = new Inventory({ maxAssets: bounds.max_assets, maxEdges: bounds.max_edges });
          const values = new ValueRanges();
          const results = await runCaptures(files, between(-Infinity, until, inv, values));
          const snap = inv.snapshot();
          const version = nextBaselineVersion(db);
          const b = baselineFrom(
            snap,
            values.ranges(),
            { version, sources: files, note: opts.note },
            inv.io.connections(),
          );
          saveBaseline(db, b);
          warnCaptureErrors(results);
          const polled = Object.values(b.edges).filter((e) => e.pollInterval !== null).length;
          // Counted as discover counts them: assets are devices (the baseline keeps every address of each), edges
          // include the probes of scans, said as such.
          const when =
            until === Infinity ? '' : ` (traffic before ${new Date(until * 1000).toISOString()})`;
          const counts = inventoryCounts(snap);
          process.stdout.write(
            `baseline v${version}${when}: ${inventoryLine(counts)}; ${polled} polled, ` +
              `${Object.values(b.edges).reduce((n, e) => n + Object.keys(e.values).length, 0)} value ranges, from ${new Date(b.from * 1000).toISOString()} to ${new Date(b.to * 1000).toISOString()}\n`,
          );
          // A scan learned as normal would make the next one look normal too: say so where it cannot be missed.
          if (counts.scans)
            process.stderr.write(
              `warning: this baseline holds ${counts.scans} scan${counts.scans === 1 ? '' : 's'} (${counts.scanProbes} connection attempts) as normal traffic; if that was not normal, learn from traffic without ${counts.scans === 1 ? 'it' : 'them'} (--until)\n`,
            );
        } finally {
          db.close();
        }
      },
    );
}
