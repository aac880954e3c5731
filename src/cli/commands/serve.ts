import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { buildServer } from '../../server/app.js';
import { LiveFeed } from '../../server/live.js';
import { loadTls, selfSignedTls } from '../../server/tls.js';
import { TrustedProxies } from '../../server/proxy.js';
import { Ingest } from '../../server/ingest.js';
import { runCaptures, runLive } from '../run-capture.js';
import { listUsers } from '../../store/session-store.js';
import type { Db } from '../../store/db.js';
import { reachableUrls } from '../listen-urls.js';
import { SystemdNotifier } from '../sd-notify.js';
import { cliSettings } from '../settings.js';
import { connectionLimitsOf } from '../../server/connections.js';
import { loginLimitsOf } from '../../server/login-throttle.js';
import { Exporter, LiveDetections } from '../../export/exporter.js';
import { sinkSpecs, withExportOptions, type ExportOpts } from '../export-options.js';
import { latestBaseline } from '../../store/baseline-store.js';
import { withIdentity, type IdentityOpts } from '../identity.js';
import { proveEnforcer } from '../enforcer.js';
import {
  actionLine,
  startPlaybooks,
  withPlaybookOptions,
  type PlaybookHostOpts,
} from '../playbook-host.js';
import { fleetNodeDir, siteWrapper } from '../../fleet/site-backend.js';

/** The built dashboard sits beside the compiled CLI: dist/web. */
const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');

interface ServeOptions {
  db: string;
  host: string;
  port: string;
  secureCookies?: boolean;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  allowedHost: string[];
  trustedProxy: string[];
  capture?: string;
  interface?: string;
  bpf?: string;
  fleetManager?: string;
  stateDir: string;
  logJson?: boolean;
}
type ServeAll = ServeOptions & PlaybookHostOpts & IdentityOpts & ExportOpts;

const warn = (msg: string): void => {
  process.stderr.write(`weir: warning: ${msg}\n`);
};

const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\./.test(host);

/** A dashboard nobody can log in to looks broken: say so, and how to add the first person. */
function warnIfLocked(db: Db, dbPath: string): void {
  const users = listUsers(db);
  if (users.some((u) => u.hasPassword)) return;
  warn(
    `no user of ${dbPath} can log in${users.length ? ' (no user has a password)' : ''}: add the first, its admin, with ` +
      `\`weir user add NAME --role admin --db ${dbPath} --password-stdin\` (the password on standard input)`,
  );
}

export function registerServe(program: Command): void {
  withExportOptions(
    withIdentity(withPlaybookOptions(program.command('serve')), { passwordStdin: true }),
  )
    .description('HTTP API and web dashboard over a store (127.0.0.1 unless told otherwise)')
    .requiredOption('--db <path>', 'store')
    .option('--host <ip>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port', '8080')
    .option(
      '--tls',
      'serve HTTPS with a self-signed certificate kept beside the store (made on first use; its fingerprint is printed)',
    )
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', 'the key of --tls-cert (PEM)')
    .option(
      '--allowed-host <name>',
      'a host name browsers use to reach this server, besides its address and localhost (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--secure-cookies',
      'send session cookies only over HTTPS (behind a TLS proxy; implied by TLS)',
    )
    .option(
      '--trusted-proxy <addr>',
      'the reverse proxy in front (address or CIDR; repeatable; default: settings server.trusted_proxy): only its X-Forwarded-For is believed as the client address',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--capture <file>',
      'follow this capture ("-" for a stream on stdin, e.g. from tcpdump -w -) and push what it shows live',
    )
    .option(
      '-i, --interface <name>',
      'follow live traffic on an interface (needs tcpdump and capture rights)',
    )
    .option('--bpf <filter>', 'capture filter for --interface')
    .option(
      '--fleet-manager <dir>',
      "a fleet manager's folder (weir manager init): its sites on the dashboard's sites page and site filter",
    )
    .option(
      '--log-json',
      'log each HTTP request as a JSON line (pino) on stdout, for journald (the weir-serve unit sets it)',
    )
    // --state-dir comes with the playbook options (the same folder serves both).
    .action(async (o: ServeAll) => {
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined))
        throw new Error('--tls-cert and --tls-key go together');
      const settings = cliSettings();
      const proxies = TrustedProxies.parse(settings.server.trusted_proxy, o.trustedProxy);
      if (o.playbooks && !o.interface && o.capture !== '-')
        throw new Error(
          '--playbooks acts on live traffic only: give --interface, or --capture - for a stream on stdin (never a recorded file)',
        );
      const caller = o.playbooks ? await proveEnforcer(o, 'serve --playbooks') : null;
      const specs = sinkSpecs(o.export, o);
      const db = openStore(o.db);
      // Live SIEM export: detections of the followed traffic as they happen, and every few seconds what other
      // writers (`weir detect`) put in the store. Events wait in the store's queue while a receiver is down.
      const exporter = specs.length > 0 ? new Exporter(db, specs) : null;
      let scan: NodeJS.Timeout | null = null;
      if (exporter !== null) {
        exporter.scanStore();
        exporter.start();
        scan = setInterval(() => exporter.scanStore(), 5000);
        scan.unref();
        process.stdout.write(
          `exporting detections to ${exporter.deliveries.map((d) => d.name).join(', ')}\n`,
        );
      }
      const tls =
        o.tlsCert !== undefined
          ? loadTls(o.tlsCert, o.tlsKey!, warn)
          : o.tls
            ? selfSignedTls(o.db, [o.host, ...o.allowedHost])
            : null;
      const follow = o.capture ?? (o.interface ? `interface ${o.interface}` : null);
      const feed = follow !== null ? new LiveFeed() : undefined;
      const app = await buildServer({
        db,
        webRoot,
        logger: o.logJson === true,
        secureCookies: o.secureCookies,
        trustedProxies: proxies,
        feed,
        allowedHosts: o.allowedHost,
        https: tls ?? undefined,
        stateDir: o.stateDir,
        limits: connectionLimitsOf(settings.server.connections),
        sessionSeconds: settings.server.session_s,
        loginLimits: loginLimitsOf(settings.server.login),
        iam: settings.iam,
        fleetDir: o.fleetManager,
        fleetHealth: settings.fleet,
        // On a fleet site the dashboard's blocks go fleet-wide through the node, like the CLI's and playbooks'.
        siteEnforcement: siteWrapper(fleetNodeDir(settings.fleet.node_dir)) ?? undefined,
      });
      await app.listen({ host: o.host, port: Number(o.port) });
      const bound = app.server.address();
      const port = typeof bound === 'object' && bound !== null ? bound.port : Number(o.port);
      const urls = reachableUrls(o.host, port, tls !== null ? 'https' : 'http');
      process.stdout.write(
        `weir serving ${o.db} at ${urls.join(' and ')}${follow ? `, following ${follow}` : ''}\n`,
      );
      warnIfLocked(db, o.db);
      if (tls === null && !o.secureCookies && !isLoopback(o.host))
        warn(
          `plain HTTP on ${o.host}: passwords and session cookies cross the network readable; use --tls (or a TLS proxy and --secure-cookies)`,
        );
      if (proxies.any)
        process.stdout.write(
          `client addresses from X-Forwarded-For of ${proxies.names.join(', ')} only\n`,
        );
      else if (tls === null && o.secureCookies)
        warn(
          '--secure-cookies without --tls: behind a TLS proxy, name it with --trusted-proxy ADDR; until then every request seems to come from the proxy, so one guesser there locks every login out (the per-address throttle), the audit log names the proxy, and the access portal is off (it would permit the proxy)',
        );
      if (tls !== null) {
        process.stdout.write(
          `certificate ${tls.certFile}${tls.generated ? ' (new, self-signed)' : ''}, SHA-256 fingerprint ${tls.fingerprint}\n`,
        );
        if (o.tls)
          process.stdout.write(
            'check that fingerprint in the browser before logging in the first time\n',
          );
      }
      let playbooks: ReturnType<typeof startPlaybooks> | null = null;
      if (caller !== null && feed !== undefined) {
        const baseline = latestBaseline(db);
        if (baseline === null)
          throw new Error('--playbooks needs a baseline: run `weir learn` first');
        playbooks = startPlaybooks(db, baseline, caller, o, (a) => {
          process.stderr.write(`${actionLine(a)}\n`);
          feed.publish({
            type: 'playbook',
            action: {
              id: a.id,
              zone: a.zone,
              playbook: a.playbook,
              mode: a.mode,
              kind: a.kind,
              target: a.target,
              status: a.status,
              reason: a.reason,
              detectionId: a.detectionId,
              detectionType: a.detectionType,
            },
          });
        });
        process.stdout.write(`${playbooks.describe}\n`);
      }
      if (feed !== undefined && follow !== null) {
        const ingest = new Ingest(db, feed, follow, {
          limits: {
            maxAssets: settings.inventory.max_assets,
            maxEdges: settings.inventory.max_edges,
          },
          detect: settings.detect,
          flushMs: settings.ingest.flush_ms,
          first: playbooks?.onDetection,
          watchers: exporter !== null ? [new LiveDetections(exporter)] : [],
        });
        ingest.start();
        const run = o.interface
          ? runLive(o.interface, ingest.stages, {
              bpf: o.bpf,
              immediate: playbooks !== null,
              onStatus: (c) => ingest.setCapture(c),
            })
          : runCaptures([o.capture!], ingest.stages, { progress: false }).then((r) => r[0]!);
        run.then(
          async (r) => {
            await ingest.finish(r.summary.error?.reason ?? null, r);
            // A capture that stopped by itself (or was stopped by another process) is no finish: detection stopped.
            if (r.summary.error !== null)
              process.stderr.write(
                `weir: following ${follow} stopped early after ${r.summary.frames} frames: ${r.summary.error.reason}; nothing more is followed\n`,
              );
            process.stdout.write(`finished following ${follow}: ${r.summary.frames} frames\n`);
          },
          async (err: Error) => {
            await ingest.finish(err.message);
            process.stderr.write(`weir: following ${follow} failed: ${err.message}\n`);
          },
        );
      }
      // Under systemd (Type=notify): ready once listening; the watchdog is pinged while the store answers.
      const sd = SystemdNotifier.fromEnv();
      sd?.ready(`serving ${o.db} at ${urls[0]}`);
      sd?.startWatchdog(() => db.prepare('SELECT 1').get() !== undefined);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      sd?.stopping();
      await app.close();
      await playbooks?.close();
      if (scan !== null) clearInterval(scan);
      await exporter?.stop();
      db.close();
      sd?.close();
    });
}
