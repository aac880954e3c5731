import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { addMute, getDetection, latestBaseline, baselineVersion, listBaselines, saveBaseline } from '../../store/baseline-store.js';
import { acceptIntoBaseline } from '../../detect/accept.js';

export function registerBaseline(program: Command): void {
  const cmd = program.command('baseline').description('review and curate learned baselines');
  cmd.command('list').requiredOption('--db <path>').description('list baseline versions').action((opts: { db: string }) => {
    const db = openStore(opts.db);
    try {
      for (const b of listBaselines(db)) process.stdout.write(`v${b.version}\t${b.createdAt}\t${b.note}\n`);
    } finally { db.close(); }
  });
  cmd.command('show').requiredOption('--db <path>').option('--version <n>').description('print a baseline as JSON')
    .action((opts: { db: string; version?: string }) => {
      const db = openStore(opts.db);
      try {
        const b = opts.version ? baselineVersion(db, Number(opts.version)) : latestBaseline(db);
        if (!b) throw new Error('no such baseline');
        process.stdout.write(JSON.stringify(b, null, 1) + '\n');
      } finally { db.close(); }
    });
  cmd.command('accept').argument('<detection-id>').requiredOption('--db <path>').option('--note <text>', 'why it is normal', '')
    .description('learn what a detection saw into a new baseline version')
    .action((id: string, opts: { db: string; note: string }) => {
      const db = openStore(opts.db);
      try {
        const d = getDetection(db, id);
        if (!d) throw new Error(`no detection ${id}`);
        const b = latestBaseline(db);
        if (!b) throw new Error('no baseline to extend');
        const next = acceptIntoBaseline(b, d, opts.note);
        if (!next) throw new Error(`${d.type} is an event, not a profile: mute it instead (weir baseline mute ${id})`);
        saveBaseline(db, next);
        process.stdout.write(`baseline v${next.version}: accepted ${d.type} ${d.src} → ${d.dst}\n`);
      } finally { db.close(); }
    });
  cmd.command('mute').argument('<detection-id>').requiredOption('--db <path>').requiredOption('--reason <text>')
    .option('--days <n>', 'mute for this many days (default: until removed)')
    .description('silence findings like this one (same type, source, destination and detail)')
    .action((id: string, opts: { db: string; reason: string; days?: string }) => {
      const db = openStore(opts.db);
      try {
        const d = getDetection(db, id);
        if (!d) throw new Error(`no detection ${id}`);
        const detail = d.detail || undefined;
        const until = opts.days ? Date.now() / 1000 + Number(opts.days) * 86400 : undefined;
        const n = addMute(db, { type: d.type, src: d.src, dst: d.dst, ...(detail ? { detail } : {}), ...(until ? { until } : {}) }, opts.reason);
        process.stdout.write(`mute #${n}: ${d.type} ${d.src} → ${d.dst}\n`);
      } finally { db.close(); }
    });
}
