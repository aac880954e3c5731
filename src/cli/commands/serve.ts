import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { buildServer } from '../../server/app.js';

/** The built dashboard sits beside the compiled CLI: dist/web. */
const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');

export function registerServe(program: Command): void {
  program.command('serve')
    .description('HTTP API and web dashboard over a store (127.0.0.1 unless told otherwise)')
    .requiredOption('--db <path>', 'store')
    .option('--host <ip>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port', '8080')
    .option('--secure-cookies', 'send session cookies only over HTTPS (behind a TLS proxy)')
    .action(async (o: { db: string; host: string; port: string; secureCookies?: boolean }) => {
      const db = openStore(o.db);
      const app = await buildServer({ db, webRoot, logger: false, secureCookies: o.secureCookies });
      const url = await app.listen({ host: o.host, port: Number(o.port) });
      process.stdout.write(`weir serving ${o.db} at ${url}\n`);
      await new Promise<void>((resolve) => { process.once('SIGTERM', resolve); process.once('SIGINT', resolve); });
      await app.close();
      db.close();
    });
}
