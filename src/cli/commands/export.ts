import type { Command } from 'commander';
import { openExistingStore, STORE_HINT } from '../identity.js';
import { Exporter } from '../../export/exporter.js';
import { sinkStatuses } from '../../store/export-store.js';
import { reportDrain, sinkSpecs } from '../export-options.js';
import { renderColumns } from '../columns.js';

interface ExportCmdOpts {
  db: string;
  to: string[];
  format: string[];
  ca?: string;
  jsonl?: string;
  jsonlMaxMb?: string;
  jsonlKeep?: string;
  follow?: boolean;
  timeout: string;
  hostname?: string;
  status?: boolean;
  batch: string;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      "send the store's detections (new ones, and material updates of folded ones) to a SIEM: syslog CEF/LEEF/ECS JSON, or JSON lines; durable, in order, each event under a stable id",
    )
    .requiredOption('--db <path>', 'store')
    .option(
      '--to <url>',
      'syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT or syslog+tls://HOST:PORT (?facility=local4) (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--format <name>',
      'cef, leef or ecs (JSON with Elastic Common Schema names); one for all --to, or one per --to',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--ca <file>', 'CA certificate (PEM) a syslog+tls:// receiver must be signed by')
    .option('--jsonl <file>', 'also write ECS JSON lines to this file (for a log shipper)')
    .option('--jsonl-max-mb <n>', 'rotate the JSON-lines file at this size', '64')
    .option('--jsonl-keep <n>', 'rotated JSON-lines files kept', '5')
    .option('--follow', 'keep running: send new detections and updates as they reach the store')
    .option('--timeout <seconds>', 'without --follow: how long to wait for receivers', '30')
    .option(
      '--hostname <name>',
      'the HOSTNAME of syslog messages and observer.hostname (default: this host)',
    )
    .option(
      '--batch <n>',
      'events per write (smaller: less resent after a broken connection)',
      '500',
    )
    .option('--status', "show each destination's progress through the queue, send nothing")
    .action(async (o: ExportCmdOpts) => {
      const db = openExistingStore(o.db, STORE_HINT);
      try {
        if (o.status) {
          const rows = sinkStatuses(db).map((s) => [
            s.name,
            String(s.acked),
            String(s.pending),
            s.updatedAt,
            s.lastError ?? '',
          ]);
          process.stdout.write(
            rows.length === 0
              ? 'no export destinations yet\n'
              : `${renderColumns(['destination', 'delivered up to', 'pending', 'updated', 'last error'], rows)}\n`,
          );
          return;
        }
        const urls = [...o.to, ...(o.jsonl !== undefined ? [`jsonl:${o.jsonl}`] : [])];
        if (urls.length === 0) throw new Error('give --to URL and/or --jsonl FILE');
        const formats =
          o.jsonl !== undefined && o.format.length > 1 ? [...o.format, 'ecs'] : o.format;
        const exporter = new Exporter(db, sinkSpecs(urls, { ...o, format: formats }), {
          hostname: o.hostname,
          batch: Number(o.batch),
        });
        const queued = exporter.scanStore();
        process.stderr.write(
          `weir: export: ${queued} new events queued; sending to ${exporter.deliveries.map((d) => d.name).join(', ')}\n`,
        );
        exporter.start();
        if (o.follow) {
          const timer = setInterval(() => exporter.scanStore(), 1000);
          await new Promise<void>((resolve) => {
            process.once('SIGTERM', resolve);
            process.once('SIGINT', resolve);
            const fatal = setInterval(() => {
              if (exporter.deliveries.every((d) => d.fatal !== null)) resolve();
            }, 200);
            fatal.unref();
          });
          clearInterval(timer);
          await exporter.stop();
          const failed = exporter.deliveries.filter((d) => d.fatal !== null);
          for (const d of failed) process.stderr.write(`weir: export: ${d.fatal!.message}\n`);
          if (failed.length > 0) process.exitCode = 1;
          return;
        }
        const left = await exporter.drain(Number(o.timeout) * 1000);
        await exporter.stop();
        for (const d of exporter.deliveries)
          process.stdout.write(
            `${d.name}: ${d.delivered} events delivered, ${left.find((l) => l.name === d.name)!.pending} pending\n`,
          );
        if (!reportDrain(left)) process.exitCode = 1;
        for (const d of exporter.deliveries)
          if (d.fatal !== null) {
            process.stderr.write(`weir: export: ${d.fatal.message}\n`);
            process.exitCode = 1;
          }
      } finally {
        db.close();
      }
    });
}
