import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { buildServer } from '../../server/app.js';
import { LiveFeed } from '../../server/live.js';
import { Ingest } from '../../server/ingest.js';
import { runCaptures, runLive } from '../run-capture.js';

/** The built dashboard sits beside the compiled CLI: dist/web. */
const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');

export function registerServe(program: Command): void {
  program.command('serve')
    .description('HTTP API and web dashboard over a store (127.0.0.1 unless told otherwise)')
    .requiredOption('--db <path>', 'store')
    .option('--host <ip>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port', '8080')
    .option('--secure-cookies', 'send session cookies only over HTTPS (behind a TLS proxy)')
    .option('--capture <file>', 'follow this capture ("-" for a stream on stdin, e.g. from tcpdump -w -) and push what it shows live')
    .option('-i, --interface <name>', 'follow live traffic on an interface (needs tcpdump and capture rights)')
    .option('--bpf <filter>', 'capture filter for --interface')
    .action(async (o: { db: string; host: string; port: string; secureCookies?: boolean; capture?: string; interface?: string; bpf?: string }) => {
      const db = openStore(o.db);
      const follow = o.capture ?? (o.interface ? `interface ${o.interface}` : null);
      const feed = follow !== null ? new LiveFeed() : undefined;
      const app = await buildServer({ db, webRoot, logger: false, secureCookies: o.secureCookies, feed });
      const url = await app.listen({ host: o.host, port: Number(o.port) });
      process.stdout.write(`weir serving ${o.db} at ${url}${follow ? `, following ${follow}` : ''}\n`);
      if (feed !== undefined && follow !== null) {
        const ingest = new Ingest(db, feed, follow);
        ingest.start();
        const run = o.interface ? runLive(o.interface, ingest.hooks, { bpf: o.bpf }) : runCaptures([o.capture!], ingest.hooks, { progress: false }).then((r) => r[0]!);
        run.then(async (r) => { await ingest.finish(r.summary.error?.reason ?? null, r); process.stdout.write(`finished following ${follow}: ${r.summary.frames} frames\n`); },
          async (err: Error) => { await ingest.finish(err.message); process.stderr.write(`weir: following ${follow} failed: ${err.message}\n`); });
      }
      await new Promise<void>((resolve) => { process.once('SIGTERM', resolve); process.once('SIGINT', resolve); });
      await app.close();
      db.close();
    });
}
