import type { Command } from 'commander';
import { importBundleBytes } from '../bundle-import.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { playbookBackend } from '../../enforce/playbook-backend.js';
import { readSiteKit } from '../../fleet/home.js';
import { NodeRuntime } from '../../fleet/node-runtime.js';
import { NODE_ENV } from '../../fleet/site-backend.js';
import { SitePipeline, type SiteWatcher } from '../../fleet/site-pipeline.js';
import { checkSiteName } from '../../fleet/subjects.js';
import { siteStoreGuard } from '../../fleet/apply-state.js';
import { liveNeverBlock } from '../../enforce/host-addresses.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { latestBaseline } from '../../store/baseline-store.js';
import { DEFAULT_STATE_DIR } from '../../enforce/state.js';
import { openExistingStore, STORE_HINT, withIdentity, type IdentityOpts } from '../identity.js';
import { proveEnforcer } from '../enforcer.js';
import { actionLine, startPlaybooks } from '../playbook-host.js';
import { runCaptures, runLive } from '../run-capture.js';
import { findCaptureHelper } from '../../capture/live.js';
import { cliSettings } from '../settings.js';

/** How long the node waits on a locked site store before it counts the attempt busy and retries later. */
const GUARD_BUSY_MS = 200;

interface NodeOpts extends IdentityOpts {
  site: string;
  kit: string;
  dir: string;
  hub: string[];
  listen: string;
  family: string;
  netns?: string;
  stateDir?: string;
  db?: string;
  withoutBaselineGuard?: boolean;
  interface?: string;
  capture?: string;
  bpf?: string;
  playbooks?: boolean;
  neverBlock: string[];
}

/**
 * What sees the site's traffic in this process: consumers beyond the store, the playbooks and the outbox join
 * here (a site publisher of inventory and incidents to the manager is one line in this list).
 */
function siteWatchers(_rt: NodeRuntime): SiteWatcher[] {
  return [];
}

export function registerNode(program: Command): void {
  withIdentity(program.command('node'))
    .description(
      `run a fleet site in one process: capture → detect → playbooks → enforce on this host's nftables with the site's own store, its leaf nats-server, its outbox to the manager, and the manager's signed policy and blocklist (other weir commands join it with ${NODE_ENV}=<dir> or settings fleet.node_dir)`,
    )
    .requiredOption('--site <name>', 'this site')
    .requiredOption('--kit <dir>', 'the site kit from weir manager site add')
    .requiredOption('--dir <dir>', "the node's folder (node.db, leaf config and log)")
    .requiredOption(
      '--hub <url>',
      'the hub leafnode URL, nats-leaf://host:7422 (repeat for a cluster)',
      (v: string, p: string[]) => [...p, v],
      [] as string[],
    )
    .option('--listen <port>', 'loopback port of the local leaf for this site’s processes', '4222')
    .option('--family <family>', 'nftables family', 'inet')
    .option('--netns <name>', 'network namespace of the ruleset (and of --interface)')
    .option('--state-dir <dir>', 'runtime state of this enforcement host')
    .option(
      '--db <db>',
      "this site's store (inventory, baseline, detections, incidents, audit); blocks decided at other sites are refused here when they would cut its baseline flows",
    )
    .option(
      '--without-baseline-guard',
      "apply other sites' blocks without this site's baseline check (a site with no store yet)",
    )
    .option(
      '-i, --interface <name>',
      "follow this site's live traffic on an interface (needs tcpdump and capture rights)",
    )
    .option('--capture <file>', 'follow a capture instead ("-" for a stream on stdin)')
    .option('--bpf <filter>', 'capture filter for --interface')
    .option(
      '--playbooks',
      "run the active policy's pre-approved playbooks on the site's detections (a logged-in person allowed to enforce starts them); their blocks go fleet-wide",
    )
    .option(
      '--never-block <ip>',
      'an address never blocked here, by a playbook or a fleet block, besides this host, its subnets, routers, gateway and hub; repeatable',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .action(async (o: NodeOpts) => {
      const site = checkSiteName(o.site);
      const settings = cliSettings();
      // Sites reuse address plans: another site's attacker may be this site's PLC. No silent default.
      if (o.db === undefined && o.withoutBaselineGuard !== true)
        throw new Error(
          "--db: this site's store, so that blocks decided at other sites never cut its baseline flows (or --without-baseline-guard)",
        );
      const capturing = o.interface ?? o.capture;
      if (o.interface !== undefined && o.capture !== undefined)
        throw new Error('--interface or --capture, not both');
      if (capturing !== undefined && o.db === undefined)
        throw new Error("--interface/--capture need --db: the site's store holds the baseline");
      if (o.playbooks && capturing === undefined)
        throw new Error(
          '--playbooks act on the traffic the node follows: give --interface or --capture',
        );
      if (o.playbooks && o.capture !== undefined && o.capture !== '-')
        throw new Error(
          'playbooks act on live traffic only: --interface, or --capture - (a stream on stdin)',
        );
      const caller = o.playbooks ? await proveEnforcer(o, 'node --playbooks') : null;
      const dbPath = o.db;
      // The guard opens the site's store for each check (the newest baseline, no lock held between checks),
      // with a short busy wait: a store another process holds locked makes the document wait and retry with
      // backoff (apply-state), without blocking the node's event loop for seconds.
      const refuseBlock = dbPath === undefined ? undefined : siteStoreGuard(dbPath, GUARD_BUSY_MS);
      // The pipeline's long-lived connection: what it cannot write while the store is locked waits in memory.
      // It is also what the site publisher reads the inventory, incidents and audit log from (site-publisher.ts),
      // whether this process captures or other weir processes on the site write the store.
      const store = dbPath !== undefined ? openExistingStore(dbPath, STORE_HINT) : null;
      store?.pragma(`busy_timeout = ${GUARD_BUSY_MS}`);
      mkdirSync(o.dir, { recursive: true, mode: 0o700 });
      writeFileSync(path.join(o.dir, 'site.json'), `${JSON.stringify({ site })}\n`);
      const stateDir = o.stateDir ?? path.join(o.dir, 'enforce');
      const local = playbookBackend({
        stateDir,
        family: o.family,
        netns: o.netns,
        looseReversePath: settings.enforce.loose_reverse_path,
      });
      // The hub this site reaches the manager by is never blocked here (a block from anywhere would cut the
      // site off from its manager): its addresses as given, or as they resolve now.
      const hubs = await hubAddresses(o.hub);
      const neverBlock = [...o.neverBlock, ...hubs];
      const rt = await NodeRuntime.start({
        kit: readSiteKit(site, o.kit),
        dir: o.dir,
        client: { host: '127.0.0.1', port: Number(o.listen) },
        hubUrls: o.hub,
        local,
        refuseBlock,
        neverBlock: liveNeverBlock({
          netns: o.netns,
          stateDir,
          extra: neverBlock,
          gatewayIp: settings.enforce.gateway_ip,
        }),
        // The site's inventory, incidents and audit log go to the manager (site-publisher.ts).
        store: store ?? undefined,
        healthEveryMs: settings.fleet.health_every_s * 1000,
        // The manager's policies steer to this site's gateway (settings enforce.gateway_ip), if it runs one.
        gateway:
          settings.enforce.gateway_ip === ''
            ? null
            : { ip: settings.enforce.gateway_ip, bridge: settings.enforce.bridge, netns: o.netns },
        // Bundles the manager pushes go through this site's own bundle import (its trusted keys, audited).
        importBundle:
          store === null
            ? null
            : async (file, source) =>
                (await importBundleBytes(store, file, `fleet:${site}`, source)).line,
        onApplied: (d) => process.stderr.write(`weir node: applied ${d.kind} v${d.version}\n`),
        onRefused: (e, kind, rev) =>
          process.stderr.write(`weir node: REFUSED ${kind} at revision ${rev}: ${e.message}\n`),
      });
      process.stderr.write(`weir node: ready: site ${site}, hub ${o.hub.join(', ')}\n`);
      let playbooks: ReturnType<typeof startPlaybooks> | null = null;
      let following: Promise<void> = Promise.resolve();
      const ac = new AbortController();
      if (capturing !== undefined && store !== null) {
        const baseline = latestBaseline(store);
        if (caller !== null) {
          if (baseline === null)
            throw new Error(
              '--playbooks needs a baseline in the site store: run `weir learn` first',
            );
          playbooks = startPlaybooks(
            store,
            baseline,
            caller,
            { stateDir: stateDir ?? DEFAULT_STATE_DIR, neverBlock, netns: o.netns },
            (a) => process.stderr.write(`${actionLine(a)}\n`),
            { backend: rt.backend, target: local.target },
          );
          process.stderr.write(`weir node: ${playbooks.describe}\n`);
        }
        const pipeline = new SitePipeline(store, {
          outbox: rt.outbox,
          settings,
          first: playbooks?.onDetection,
          watchers: siteWatchers(rt),
        });
        if (!pipeline.detecting)
          process.stderr.write(
            'weir: warning: no baseline in the site store: the node inventories but detects nothing until `weir learn`\n',
          );
        pipeline.start();
        const source = o.interface !== undefined ? `live:${o.interface}` : o.capture!;
        process.stderr.write(`weir node: following ${source}\n`);
        const run =
          o.interface !== undefined
            ? runLive(o.interface, pipeline.stages, {
                bpf: o.bpf,
                immediate: playbooks !== null,
                flushMs: settings.ingest.flush_ms,
                netns: o.netns,
                signal: ac.signal,
                onStatus: (c) => rt.captureStatus(c),
              })
            : runCaptures([o.capture!], pipeline.stages, {
                progress: false,
                flushMs: settings.ingest.flush_ms,
              }).then((r) => r[0]!);
        // The sites page must not show the last counters of a capture that ended: it is stopped, with why.
        const stopped = (reason: string) => {
          if (o.interface !== undefined)
            rt.captureStopped(reason, findCaptureHelper() ? 'weir-capture' : 'tcpdump');
        };
        following = run.then(
          async (r) => {
            // No error: asked to stop (this node stopping), or an exit live.ts did not flag.
            stopped(r.summary.error?.reason ?? 'the capture ended');
            await pipeline.finish(source, r.summary.error?.reason ?? null);
            process.stderr.write(
              `weir node: finished following ${source}: ${r.summary.frames} frames, ${pipeline.detections} detections; still enforcing and syncing\n`,
            );
          },
          async (err: Error) => {
            stopped(err.message);
            await pipeline.finish(source, err.message);
            process.stderr.write(`weir node: following ${source} failed: ${err.message}\n`);
          },
        );
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      // A clean stop lets the outbox and the ingest finish their step; a stuck one must not keep the process.
      setTimeout(() => process.exit(1), 5000).unref();
      ac.abort();
      await following;
      await playbooks?.close();
      await rt.stop();
      local.close();
      store?.close();
      process.exit(0);
    });
}

/** The addresses of the hub URLs (nats-leaf://host:port): literal, or resolved now; a name that does not resolve is left out. */
async function hubAddresses(urls: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const u of urls) {
    let host: string;
    try {
      host = new URL(u).hostname.replace(/^\[|\]$/g, '');
    } catch {
      continue;
    }
    if (isIP(host) !== 0) out.add(host);
    else for (const a of await lookup(host, { all: true }).catch(() => [])) out.add(a.address);
  }
  return [...out];
}
