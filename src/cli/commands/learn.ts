import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { Inventory } from '../../discover/inventory.js';
import { ValueRanges } from '../../discover/values.js';
import { baselineFrom } from '../../discover/baseline.js';
import { inventoryCounts, inventoryLine } from '../../discover/counts.js';
import { openStore, type Db } from '../../store/db.js';
import {
  authenticate,
  openExistingStore,
  requireRole,
  STORE_HINT,
  withIdentity,
  type IdentityOpts,
} from '../identity.js';
import { latestBaseline, nextBaselineVersion, saveBaseline } from '../../store/baseline-store.js';
import { anyUserWithPassword } from '../../store/user-accounts.js';
import { anchorAudit, appendAudit } from '../../store/audit-store.js';
import { CAN } from '../../respond/roles.js';
import type { Baseline } from '../../discover/baseline.js';
import { between } from '../../dissect/stage.js';
import { cliSettings } from '../settings.js';
import { runCaptures, warnCaptureErrors } from '../run-capture.js';
import { parseTimeArg } from '../time-arg.js';

/**
 * Who learns the baseline. The newest baseline is what blocks and playbooks may never cut and what change control
 * judges simulations by, so once anyone can log in to the store it takes a proven person allowed to curate it;
 * a store nobody can log in to yet is being set up, and the operating-system account goes on the record.
 */
async function learner(db: Db, dbPath: string, o: IdentityOpts): Promise<string> {
  if (!anyUserWithPassword(db)) return `os:${userInfo().username}`;
  const caller = await authenticate(db, dbPath, o);
  requireRole(caller, CAN.actOnDetections, 'learn baselines');
  return caller.name;
}

/** Flows the previous baseline held as normal that the new one leaves out (they lose the baseline's protection). */
function droppedFlows(prev: Baseline | null, next: Baseline): number {
  if (prev === null) return 0;
  let n = 0;
  for (const id of Object.keys(prev.edges)) if (next.edges[id] === undefined) n++;
  return n;
}

export function registerLearn(program: Command): void {
  withIdentity(program.command('learn'))
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
        opts: IdentityOpts & { db: string; note: string; until?: string; create?: boolean },
      ) => {
        if (opts.passwordStdin && files.includes('-'))
          throw new Error(
            'standard input cannot carry both a capture and a password: log in first (weir login)',
          );
        const until = opts.until !== undefined ? parseTimeArg(opts.until, files) : Infinity;
        const db = opts.create ? openStore(opts.db) : openExistingStore(opts.db, STORE_HINT);
        try {
          // Proven before minutes of reading captures.
          const actor = await learner(db, opts.db, opts);
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
          const prev = latestBaseline(db);
          const dropped = droppedFlows(prev, b);
          db.transaction(() => {
            saveBaseline(db, b);
            appendAudit(db, {
              actor,
              action: 'baseline.learned',
              subject: `baseline v${version}`,
              details: {
                sources: files,
                note: opts.note,
                until: until === Infinity ? null : until,
                assets: b.assets.length,
                flows: Object.keys(b.edges).length,
                previous_version: prev?.version ?? null,
                dropped_flows: dropped,
              },
            });
          })();
          anchorAudit(db);
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
          // What drops out of normal loses the baseline's protection from blocks and playbooks: said on the spot.
          if (dropped > 0)
            process.stderr.write(
              `warning: baseline v${version} leaves out ${dropped} of the ${Object.keys(prev!.edges).length} flows baseline v${prev!.version} held as normal: blocks and playbooks no longer spare them\n`,
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
