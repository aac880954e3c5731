import type { Command } from 'commander';
import { importBundleBytes } from '../bundle-import.js';
import { cliSettings } from '../settings.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { playbookBackend } from '../../enforce/playbook-backend.js';
import { readSiteKit } from '../../fleet/home.js';
import { NodeRuntime } from '../../fleet/node-runtime.js';
import { NODE_ENV } from '../../fleet/site-backend.js';
import { checkSiteName } from '../../fleet/subjects.js';
import { guardBlock } from '../../respond/block-impact.js';
import { inStore, openExistingStore } from '../identity.js';

export function registerNode(program: Command): void {
  program
    .command('node')
    .description(
      `run a fleet site: its leaf nats-server, its outbox to the manager, and the manager's signed policy and blocklist applied to this host's nftables (other weir commands join it with ${NODE_ENV}=<dir>)`,
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
    .option('--netns <name>', 'network namespace of the ruleset')
    .option('--state-dir <dir>', 'runtime state of this enforcement host')
    .option(
      '--db <db>',
      "this site's store: a block decided at another site is refused here when it would cut this site's baseline flows",
    )
    .option(
      '--without-baseline-guard',
      "apply other sites' blocks without this site's baseline check (a site with no store yet)",
    )
    .action(
      async (o: {
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
      }) => {
        const site = checkSiteName(o.site);
        // Sites reuse address plans: another site's attacker may be this site's PLC. No silent default.
        if (o.db === undefined && o.withoutBaselineGuard !== true)
          throw new Error(
            "--db: this site's store, so that blocks decided at other sites never cut its baseline flows (or --without-baseline-guard)",
          );
        const db = o.db;
        const refuseBlock =
          db === undefined
            ? undefined
            : (address: string) => inStore(db, (s) => guardBlock(s, address, false).refusal);
        if (db !== undefined) inStore(db, () => undefined); // a wrong path fails now, not at the first block
        mkdirSync(o.dir, { recursive: true, mode: 0o700 });
        writeFileSync(path.join(o.dir, 'site.json'), `${JSON.stringify({ site })}\n`);
        const local = playbookBackend({
          stateDir: o.stateDir ?? path.join(o.dir, 'enforce'),
          family: o.family,
          netns: o.netns,
        });
        const rt = await NodeRuntime.start({
          kit: readSiteKit(site, o.kit),
          dir: o.dir,
          client: { host: '127.0.0.1', port: Number(o.listen) },
          hubUrls: o.hub,
          local,
          refuseBlock,
          gateway: siteGateway(o.netns),
          // Bundles the manager pushes go through this site's own bundle import (its trusted keys, audited).
          importBundle:
            db === undefined
              ? null
              : async (file, source) => {
                  const s = openExistingStore(db);
                  try {
                    return (await importBundleBytes(s, file, `fleet:${site}`, source)).line;
                  } finally {
                    s.close();
                  }
                },
          onApplied: (d) => process.stderr.write(`weir node: applied ${d.kind} v${d.version}\n`),
          onRefused: (e, kind, rev) =>
            process.stderr.write(`weir node: REFUSED ${kind} at revision ${rev}: ${e.message}\n`),
        });
        process.stderr.write(`weir node: ready: site ${site}, hub ${o.hub.join(', ')}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        // A clean stop lets the outbox and the ingest finish their step; a stuck one must not keep the process.
        setTimeout(() => process.exit(1), 5000).unref();
        await rt.stop();
        local.close();
        process.exit(0);
      },
    );
}

/** The site's gateway from settings (enforce.gateway_ip, enforce.bridge); null: none here. */
function siteGateway(netns?: string): { ip: string; bridge: string; netns?: string } | null {
  const e = cliSettings().enforce;
  return e.gateway_ip === '' ? null : { ip: e.gateway_ip, bridge: e.bridge, netns };
}
