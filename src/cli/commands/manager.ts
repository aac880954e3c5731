import type { Command } from 'commander';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { connect, nkeyAuthenticator } from 'nats';
import { parseDuration } from '../../policy/load.js';
import { openFleetDb } from '../../fleet/fleet-db.js';
import { addSite, openHome } from '../../fleet/home.js';
import { reloadHub, removeSite } from '../../fleet/hub-reload.js';
import { FleetManager } from '../../fleet/manager.js';
import { ManagerRuntime } from '../../fleet/manager-runtime.js';
import { inStore, withIdentity, type IdentityOpts } from '../identity.js';
import { activePolicy } from '../../respond/change-control.js';
import { carryOut, proveEnforcer } from '../enforcer.js';

function hostPort(s: string, what: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${what}: HOST:PORT, not '${s}'`);
  return { host: s.slice(0, i), port };
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** A short-lived manager on the running hub (run.json), for one state change from the command line. */
async function withManager<T>(dir: string, f: (m: FleetManager) => Promise<T>): Promise<T> {
  const run = path.join(dir, 'run.json');
  if (!existsSync(run)) throw new Error(`${dir}: no running manager (start weir manager run)`);
  const { client } = JSON.parse(readFileSync(run, 'utf8')) as { client: string };
  const home = openHome(dir);
  const nc = await connect({
    servers: client,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(home.nkeySeed)),
  });
  const db = openFleetDb(path.join(dir, 'manager.db'));
  try {
    const m = new FleetManager(db, nc, {
      publisher: 'weir-manager',
      signingKeyPem: home.signingKeyPem,
    });
    await m.setup();
    return await f(m);
  } finally {
    await nc.close();
    db.close();
  }
}

export function registerManager(program: Command): void {
  const mgr = program
    .command('manager')
    .description(
      'the fleet manager: sites report to it over NATS JetStream; it signs and distributes policy and blocklist',
    );

  mgr
    .command('init')
    .description('make the manager folder: CA, hub certificate, NKEY, Ed25519 signing key')
    .requiredOption('--dir <dir>', 'manager folder')
    .option('--host <host>', 'a name or address sites dial the hub by (repeat)', collect, [])
    .action((o: { dir: string; host: string[] }) => {
      const h = openHome(o.dir, o.host.length ? o.host : ['127.0.0.1', 'localhost']);
      process.stdout.write(`manager folder ${h.dir} ready; ${h.sites.length} sites\n`);
    });

  const site = mgr.command('site').description("the fleet's sites");
  site
    .command('add')
    .description(
      'admit a site: its certificate, and a kit to carry to it (a running hub takes it at once, no restart)',
    )
    .argument('<name>')
    .requiredOption('--dir <dir>', 'manager folder')
    .action(async (name: string, o: { dir: string }) => {
      const home = openHome(o.dir);
      const kit = addSite(home, name);
      const live = await reloadHub(home);
      process.stdout.write(
        `site ${kit.site}: kit in ${kit.dir}; ${live === 'reloaded' ? 'admitted by the running hub' : 'admitted when manager run starts'}\n`,
      );
    });

  withIdentity(
    site
      .command('remove')
      .description(
        'take a site out: the running hub refuses it at once and its open link is closed (as a logged-in person allowed to enforce; audited)',
      )
      .argument('<name>')
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'store for the audit log (required)'),
  ).action(async (name: string, o: IdentityOpts & { dir: string; db?: string }) => {
    await proveEnforcer(o, 'manager site remove');
    const live = await carryOut(o, 'fleet.site.remove', name, {}, () =>
      removeSite(openHome(o.dir), name),
    );
    process.stdout.write(
      `site ${name} removed${live === 'reloaded' ? ': cut off from the running hub' : ''}\n`,
    );
  });

  mgr
    .command('sites')
    .description('sites, when each was last heard from, and its health')
    .requiredOption('--dir <dir>', 'manager folder')
    .action((o: { dir: string }) => {
      const db = openFleetDb(path.join(o.dir, 'manager.db'));
      try {
        const rows = db
          .prepare('SELECT site, last_seen, records, health FROM fleet_sites ORDER BY site')
          .all();
        process.stdout.write(`${JSON.stringify(rows, null, 1)}\n`);
      } finally {
        db.close();
      }
    });

  mgr
    .command('run')
    .description('run the hub nats-server and the manager until stopped (SIGINT/SIGTERM)')
    .requiredOption('--dir <dir>', 'manager folder (weir manager init)')
    .option('--listen <host:port>', "the manager's client port", '127.0.0.1:4222')
    .option('--leaf <host:port>', 'where sites connect their leaf nodes', '0.0.0.0:7422')
    .option('--advertise <host:port>', 'the leafnode address sites are told of')
    .option(
      '--monitor <port>',
      "the hub's monitor port on loopback (site remove uses it to close only the removed site's link)",
    )
    .action(
      async (o: {
        dir: string;
        listen: string;
        leaf: string;
        advertise?: string;
        monitor?: string;
      }) => {
        const client = hostPort(o.listen, '--listen');
        const monitorPort = o.monitor === undefined ? undefined : Number(o.monitor);
        if (
          monitorPort !== undefined &&
          !(Number.isInteger(monitorPort) && monitorPort > 0 && monitorPort < 65536)
        )
          throw new Error(`--monitor: a port, not '${o.monitor}'`);
        const rt = await ManagerRuntime.start({
          dir: o.dir,
          client,
          leaf: hostPort(o.leaf, '--leaf'),
          leafAdvertise: o.advertise,
          monitorPort,
        });
        writeFileSync(
          path.join(o.dir, 'run.json'),
          `${JSON.stringify({ client: `${client.host}:${client.port}`, pid: process.pid })}\n`,
        );
        process.stderr.write(
          `weir manager: ready: hub ${o.listen}, leafnodes ${o.leaf}, ${rt.home.sites.length} sites\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        // A clean stop lets the outbox and the ingest finish their step; a stuck one must not keep the process.
        setTimeout(() => process.exit(1), 5000).unref();
        await rt.stop();
        process.exit(0);
      },
    );

  withIdentity(
    mgr
      .command('block')
      .description(
        'block an address at every site (as a logged-in person allowed to enforce; audited)',
      )
      .argument('<ip>')
      .requiredOption('--dir <dir>', 'manager folder')
      .requiredOption('--ttl <duration>', 'how long, e.g. 10m, 4h')
      .option('--db <db>', 'store for the audit log (required)')
      .option('--reason <text>', 'why', ''),
  ).action(
    async (
      ip: string,
      o: IdentityOpts & { dir: string; ttl: string; db?: string; reason: string },
    ) => {
      const caller = await proveEnforcer(o, 'manager block');
      const ttl = parseDuration(o.ttl);
      if (!Number.isInteger(ttl) || ttl < 1)
        throw new Error(`--ttl: a duration like 90s, 10m or 4h, not '${o.ttl}'`);
      const v = await carryOut(o, 'fleet.block', ip, { ttl_s: ttl, reason: o.reason }, () =>
        withManager(o.dir, (m) =>
          m.block({ address: ip, ttlSeconds: ttl, comment: o.reason }, `manager:${caller.name}`),
        ),
      );
      process.stdout.write(`${ip} blocked at every site for ${ttl}s (blocklist v${v})\n`);
    },
  );

  const policy = mgr.command('policy').description("the fleet's policy");
  withIdentity(
    policy
      .command('push')
      .description(
        "sign the store's active policy — the one change control approved and applied — and send it to every site (as a logged-in person allowed to enforce; audited)",
      )
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'the store whose active policy goes out, and its audit log (required)'),
  ).action(async (o: IdentityOpts & { dir: string; db?: string }) => {
    await proveEnforcer(o, 'manager policy push');
    // Only what went through propose → simulate → approve → apply leaves for the sites: a file given here
    // would be a way around change control for every site at once.
    const active = inStore(o.db!, (db) => activePolicy(db));
    if (active === null)
      throw new Error(
        'no active policy in this store: propose, simulate, approve and apply one first (weir policy propose …)',
      );
    const { text, source, sha } = active;
    const v = await carryOut(o, 'fleet.policy.push', source, { sha }, () =>
      withManager(o.dir, (m) => m.publish('policy', () => ({ text, source }))),
    );
    process.stdout.write(
      `policy ${source} (${sha.slice(0, 12)}, the active one) pushed to every site as v${v}\n`,
    );
  });
}
