import type { Command } from 'commander';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { connect, nkeyAuthenticator } from 'nats';
import { parseDuration } from '../../policy/load.js';
import { openFleetDb } from '../../fleet/fleet-db.js';
import { addSite, generationOf, openHome } from '../../fleet/home.js';
import { rekeySite, reloadHub, removeSite, type LinkClosure } from '../../fleet/hub-reload.js';
import { FleetManager } from '../../fleet/manager.js';
import { ManagerRuntime } from '../../fleet/manager-runtime.js';
import { ingestLimits } from '../../fleet/ingest.js';
import { cliSettings } from '../settings.js';
import { inStore, withIdentity, type IdentityOpts } from '../identity.js';
import { activePolicy } from '../../respond/change-control.js';
import { carryOut, proveEnforcer } from '../enforcer.js';
import { verifyBundle } from '../../assess/bundle/format.js';
import { trustedKeys } from '../../store/bundle-store.js';

function hostPort(s: string, what: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${what}: HOST:PORT, not '${s}'`);
  return { host: s.slice(0, i), port };
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** What the audit log keeps of a link closure. */
function linksNote(l: LinkClosure | null): string {
  if (l === null) return 'no hub running';
  if (l.state === 'still open') return `STILL OPEN: ${l.reason}`;
  if (l.state === 'none open') return 'none open';
  return l.all ? 'every leaf link closed' : `${l.links} closed`;
}

/**
 * Tell what became of the old links. One still open is said loudly, with what to do, and the command fails
 * (exit 3): the old key's holder keeps the site's permissions on that link until it drops.
 */
function sayLinks(site: string, l: LinkClosure | null): void {
  if (l === null || l.state === 'none open') return;
  if (l.state === 'closed') {
    process.stdout.write(
      l.all
        ? 'every leaf link closed (no --monitor port to tell them apart); the other sites reconnect at once\n'
        : `${l.links} open link${l.links === 1 ? '' : 's'} of the old key closed\n`,
    );
    return;
  }
  process.stderr.write(
    `weir: WARNING: ${l.links < 0 ? 'the leaf links' : `${l.links} link${l.links === 1 ? '' : 's'}`} of site ${site}'s old key could NOT be closed and stay open with its permissions (${l.reason}). nats-server 2.9 cannot close a leaf link itself: run 'ss -K -t sport = :LEAFPORT' as root on the hub's host, or restart weir manager run.\n`,
  );
  process.exitCode = 3;
}

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
  withIdentity(
    site
      .command('add')
      .description(
        'admit a site: a certificate of its own (a new enrolment: no earlier one of the name is accepted again), and a kit to carry to it; a running hub takes it at once, no restart (as a logged-in person allowed to enforce; audited)',
      )
      .argument('<name>')
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'store for the audit log (required)'),
  ).action(async (name: string, o: IdentityOpts & { dir: string; db?: string }) => {
    await proveEnforcer(o, 'manager site add');
    const home = openHome(o.dir);
    // A name not enrolled now gets the next generation (addSite); adding an enrolled one rewrites its kit.
    const generation = generationOf(home, name) + (home.sites.includes(name) ? 0 : 1);
    // Audited with the name and the enrolment's generation only: the kit's key never enters the audit log.
    const { kit, live } = await carryOut(o, 'fleet.site.add', name, { generation }, async () => {
      const kit = addSite(home, name);
      return { kit, live: await reloadHub(home) };
    });
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
    const details: Record<string, unknown> = {};
    const r = await carryOut(o, 'fleet.site.remove', name, details, async () => {
      const r = await removeSite(openHome(o.dir), name);
      details.links = linksNote(r.links);
      return r;
    });
    process.stdout.write(
      `site ${name} removed${r.live === 'reloaded' ? ': refused by the running hub' : ''}\n`,
    );
    sayLinks(name, r.links);
  });

  withIdentity(
    site
      .command('rekey')
      .description(
        "revoke an enrolled site's key (stolen or suspected) and give it a new one: a new generation the hub alone maps, the old key's open links closed, a kit for the site; its records, health and state stay (as a logged-in person allowed to enforce; audited)",
      )
      .argument('<name>')
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'store for the audit log (required)'),
  ).action(async (name: string, o: IdentityOpts & { dir: string; db?: string }) => {
    await proveEnforcer(o, 'manager site rekey');
    const home = openHome(o.dir);
    if (!home.sites.includes(name)) throw new Error(`no site named '${name}'`);
    const previous = generationOf(home, name);
    // Audited with the name and the generations only: the new kit's key never enters the audit log.
    const details: Record<string, unknown> = { generation: previous + 1, previous };
    const r = await carryOut(o, 'fleet.site.rekey', name, details, async () => {
      const r = await rekeySite(home, name);
      details.links = linksNote(r.links);
      return r;
    });
    process.stdout.write(
      `site ${name}: key of enrolment ${r.previous} revoked${r.live === 'reloaded' ? ' at the running hub' : ''}; new kit (enrolment ${r.generation}) in ${r.kit.dir}: install it at the site and restart weir node there\n`,
    );
    sayLinks(name, r.links);
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
          ingest: ingestLimits(cliSettings().fleet),
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

  withIdentity(
    mgr
      .command('unblock')
      .description(
        'lift a block at every site, whoever placed it (as a logged-in person allowed to enforce; audited); a site lifts only its own',
      )
      .argument('<ip>')
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'store for the audit log (required)')
      .option('--reason <text>', 'why', ''),
  ).action(async (ip: string, o: IdentityOpts & { dir: string; db?: string; reason: string }) => {
    const caller = await proveEnforcer(o, 'manager unblock');
    const v = await carryOut(o, 'fleet.unblock', ip, { reason: o.reason }, () =>
      withManager(o.dir, (m) => m.unblock(ip, `manager:${caller.name}`)),
    );
    process.stdout.write(`${ip} lifted at every site (blocklist v${v})\n`);
  });

  const permit = mgr
    .command('permit')
    .description(
      'temporary access at the sites, scoped like a permit template and lapsing by itself',
    );
  withIdentity(
    permit
      .command('grant')
      .description(
        'let one client reach one server of a zone at every site (or --site) for a while, its functions and registers only (as a logged-in person allowed to enforce; audited)',
      )
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'store for the audit log (required)')
      .requiredOption('--client <ip>', 'the address let in (an engineering laptop)')
      .requiredOption('--server <ip>', 'the server it may reach')
      .requiredOption('--zone <zone>', "the zone of the site's policy the server is in")
      .requiredOption('--protocol <name>', 'e.g. modbus, s7comm, enip')
      .requiredOption('--ttl <duration>', 'how long, at most 12h, e.g. 30m')
      .option('--port <n>', "the server's port (default: the protocol's)", collect, [])
      .option('--function <f>', 'an allowed function code or name (repeat)', collect, [])
      .option(
        '--registers <space:lo-hi>',
        'allowed addresses, e.g. holding_register:100-109 (repeat)',
        collect,
        [],
      )
      .option(
        '--unit <n>',
        'a station it may reach behind the server: Modbus unit id, DNP3 link or IEC 104 common address (repeat; default any)',
        collect,
        [],
      )
      .option('--access <access>', 'read-only or read-write', 'read-only')
      .option('--site <name>', 'only this site (repeat; default every site)', collect, [])
      .option('--reason <text>', 'why', ''),
  ).action(
    async (
      o: IdentityOpts & {
        dir: string;
        db?: string;
        client: string;
        server: string;
        zone: string;
        protocol: string;
        ttl: string;
        port: string[];
        function: string[];
        registers: string[];
        unit: string[];
        access: string;
        site: string[];
        reason: string;
      },
    ) => {
      const caller = await proveEnforcer(o, 'manager permit grant');
      const ttl = parseDuration(o.ttl);
      if (!Number.isInteger(ttl) || ttl < 1)
        throw new Error(`--ttl: a duration like 90s, 10m or 4h, not '${o.ttl}'`);
      if (o.access !== 'read-only' && o.access !== 'read-write')
        throw new Error(`--access: read-only or read-write, not '${o.access}'`);
      const addresses: Record<string, string[]> = {};
      for (const r of o.registers) {
        const m = /^([a-z_]+):([0-9]+(?:-[0-9]+)?)$/.exec(r);
        if (m === null) throw new Error(`--registers: SPACE:LO-HI, not '${r}'`);
        (addresses[m[1]!] ??= []).push(m[2]!);
      }
      const units = o.unit.map((u) => {
        if (!/^[0-9]+$/.test(u))
          throw new Error(`--unit: a station address (a number), not '${u}'`);
        return Number(u);
      });
      const details = {
        client: o.client,
        server: o.server,
        zone: o.zone,
        protocol: o.protocol,
        functions: o.function,
        registers: o.registers,
        units: o.unit,
        access: o.access,
        ttl_s: ttl,
        sites: o.site.length > 0 ? o.site : 'all',
        reason: o.reason,
      };
      const { permit: p, version } = await carryOut(
        o,
        'fleet.permit.grant',
        `${o.client} → ${o.server}`,
        details,
        () =>
          withManager(o.dir, (m) =>
            m.grantPermit({
              client: o.client,
              server: o.server,
              zone: o.zone,
              protocol: o.protocol,
              ports: o.port.length > 0 ? o.port.map(Number) : undefined,
              functions:
                o.function.length > 0
                  ? o.function.map((f) => (/^[0-9]+$/.test(f) ? Number(f) : f))
                  : undefined,
              addresses: o.registers.length > 0 ? addresses : undefined,
              units: units.length > 0 ? units : undefined,
              access: o.access as 'read-only' | 'read-write',
              ttlSeconds: ttl,
              grantedBy: caller.name,
              comment: o.reason,
              sites: o.site.length > 0 ? o.site : undefined,
            }),
          ),
      );
      process.stdout.write(
        `permit ${p.id}: ${p.client} → ${p.server} ${p.protocol} ${p.transport}/${p.ports.join(',')} for ${ttl}s at ${o.site.length > 0 ? o.site.join(', ') : 'every site'} (permits v${version})\n`,
      );
    },
  );
  withIdentity(
    permit
      .command('revoke')
      .description(
        'withdraw a fleet permit at every site now (as a logged-in person allowed to enforce; audited)',
      )
      .argument('<id>')
      .requiredOption('--dir <dir>', 'manager folder')
      .option('--db <db>', 'store for the audit log (required)'),
  ).action(async (id: string, o: IdentityOpts & { dir: string; db?: string }) => {
    await proveEnforcer(o, 'manager permit revoke');
    const v = await carryOut(o, 'fleet.permit.revoke', id, {}, () =>
      withManager(o.dir, (m) => m.revokePermit(id)),
    );
    process.stdout.write(`permit ${id} revoked at every site (permits v${v})\n`);
  });

  const bundle = mgr.command('bundle').description('advisory bundles for every site');
  withIdentity(
    bundle
      .command('push')
      .description(
        "send a signed advisory bundle (weir bundle make) to every site; each imports it as weir bundle import does, checking the publisher's signature and that it is newer (as a logged-in person allowed to enforce; audited)",
      )
      .argument('<file>')
      .requiredOption('--dir <dir>', 'manager folder')
      .option(
        '--db <db>',
        'store for the audit log, whose trusted bundle keys it must verify with (required)',
      ),
  ).action(async (file: string, o: IdentityOpts & { dir: string; db?: string }) => {
    await proveEnforcer(o, 'manager bundle push');
    const bytes = readFileSync(file);
    // Checked here as the sites will check it, so a forged or unsigned bundle never leaves the manager.
    const b = inStore(o.db!, (db) => verifyBundle(bytes, trustedKeys(db), null, file));
    const v = await carryOut(
      o,
      'fleet.bundle.push',
      file,
      { sequence: b.header.sequence, publisher: b.header.publisher, key: b.header.keyId },
      () => withManager(o.dir, (m) => m.pushBundle(bytes, file)),
    );
    process.stdout.write(
      `bundle ${b.header.sequence} from ${b.header.publisher} (key ${b.header.keyId}) pushed to every site as bundle v${v}\n`,
    );
  });

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
