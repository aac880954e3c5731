import type { Command } from 'commander';
import {
  getDetection,
  latestBaseline,
  baselineVersion,
  listBaselines,
} from '../../store/baseline-store.js';
import { learnDetection, muteDetection, unmuteDetection } from '../../respond/detection-actions.js';
import { CAN } from '../../respond/roles.js';
import { asCaller, type IdentityOpts, inStore, withIdentity } from '../identity.js';

export function registerBaseline(program: Command): void {
  const cmd = program.command('baseline').description('review and curate learned baselines');
  cmd
    .command('list')
    .requiredOption('--db <path>', 'store holding the baselines')
    .description('list baseline versions')
    .action((opts: { db: string }) => {
      inStore(opts.db, (db) => {
        for (const b of listBaselines(db))
          process.stdout.write(`v${b.version}\t${b.createdAt}\t${b.note}\n`);
      });
    });
  cmd
    .command('show')
    .requiredOption('--db <path>', 'store holding the baselines')
    .option('--version <n>', 'baseline version (default: the latest)')
    .description('print a baseline as JSON')
    .action((opts: { db: string; version?: string }) => {
      inStore(opts.db, (db) => {
        const b = opts.version ? baselineVersion(db, Number(opts.version)) : latestBaseline(db);
        if (!b) throw new Error('no such baseline');
        process.stdout.write(JSON.stringify(b, null, 1) + '\n');
      });
    });
  withIdentity(cmd.command('accept'))
    .argument('<detection-id>')
    .requiredOption('--db <path>', 'store holding the detection')
    .option('--note <text>', 'why it is normal', '')
    .description(
      'learn what a detection saw into a new baseline version (naming the detection is the confirmation; what became normal is printed)',
    )
    .action((id: string, opts: IdentityOpts & { db: string; note: string }) =>
      asCaller(opts.db, opts, CAN.actOnDetections, 'act on detections', (db, who) => {
        const { version, preview } = learnDetection(db, id, who.name, opts.note, true);
        const d = getDetection(db, id)!;
        process.stdout.write(
          `baseline v${version}: accepted ${d.type} ${d.src} → ${d.dst}: ${preview.becomesNormal}\n`,
        );
        for (const w of preview.warnings) process.stderr.write(`warning: ${w}\n`);
      }),
    );
  withIdentity(cmd.command('mute'))
    .argument('<detection-id>')
    .requiredOption('--db <path>', 'store holding the detection')
    .requiredOption('--reason <text>', 'why these findings are not worth showing (audited)')
    .option('--days <n>', 'mute for this many days (default: until removed)')
    .description('silence findings like this one (same type, source, destination and detail)')
    .action((id: string, opts: IdentityOpts & { db: string; reason: string; days?: string }) =>
      asCaller(opts.db, opts, CAN.actOnDetections, 'act on detections', (db, who) => {
        if (opts.days !== undefined && !/^[1-9][0-9]{0,3}$/.test(opts.days))
          throw new Error(`--days: '${opts.days}' is not a number of days (1-9999)`);
        const { mute } = muteDetection(
          db,
          id,
          who.name,
          opts.reason,
          opts.days ? Number(opts.days) : undefined,
        );
        const d = getDetection(db, id)!;
        process.stdout.write(`mute #${mute}: ${d.type} ${d.src} → ${d.dst}\n`);
      }),
    );
  withIdentity(cmd.command('unmute'))
    .argument('<detection-id>')
    .requiredOption('--db <path>', 'store holding the detection')
    .option('--reason <text>', 'why it should alert again', '')
    .description('remove the mutes made from a detection, so findings like it alert again')
    .action((id: string, opts: IdentityOpts & { db: string; reason: string }) =>
      asCaller(opts.db, opts, CAN.actOnDetections, 'act on detections', (db, who) => {
        const { unmuted } = unmuteDetection(db, id, who.name, opts.reason);
        const d = getDetection(db, id)!;
        process.stdout.write(
          `unmuted ${unmuted.map((m) => `#${m}`).join(', ')}: ${d.type} ${d.src} → ${d.dst} alerts again\n`,
        );
      }),
    );
}
