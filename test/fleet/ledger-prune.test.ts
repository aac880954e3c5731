// The record ledger is pruned below each site's acknowledged floor, every second here, while a real manager
// process takes a site's records and is killed (-9, with its hub) mid-ingest. After the restart every record is
// kept exactly once, the ledger has shrunk, and copies of records whose ledger rows are gone (a site sending
// again after JetStream's duplicate window) change nothing and count nothing twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from 'nats';
import { cli } from '../helpers/weir-cli.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { openFleetDb, type FleetDb } from '../../src/fleet/fleet-db.js';
import { checkSiteChain } from '../../src/fleet/aggregate-store.js';
import { auditId, itemId } from '../../src/fleet/site-publisher.js';
import { INGEST_ACK_WAIT_MS } from '../../src/fleet/ingest.js';
import { HUB_DOMAIN, siteInbox } from '../../src/fleet/subjects.js';
import { openStore } from '../../src/store/db.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { restartablePort } from '../helpers/ports.js';
import { seedSite } from './site-store-kit.js';

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
});

const n = (db: FleetDb, sql: string, ...args: unknown[]): number =>
  (db.prepare(sql).get(...args) as { n: number }).n;
const AGG = "kind IN ('inventory', 'incident', 'auditlog')";

function killPid(file: string): void {
  try {
    process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL');
  } catch {
    // gone already
  }
}

test(
  'ledger pruned every second across kill -9 of the manager and its hub: every record once, copies of pruned ones change nothing',
  { timeout: 150_000 },
  async () => {
    const dir = tempDir('prune-kill');
    const mdir = path.join(dir, 'manager');
    const home = openHome(mdir);
    addSite(home, 'a');
    // Prune every second; a rate that spreads the 3,202 records over several seconds (so kill lands mid-way).
    const config = path.join(dir, 'weir.yaml');
    writeFileSync(
      config,
      'weir: settings/1\nfleet:\n  ledger_prune_every_s: 1\n  ingest_per_site_per_s: 400\n  ingest_burst_per_site: 400\n',
    );
    // The manager and its hub are killed and started again on these: not ports the OS hands out meanwhile.
    const listen = `127.0.0.1:${await restartablePort()}`;
    const leafPort = await restartablePort();
    const children = new Set<ChildProcess>();
    stops.push(async () => {
      for (const c of children) c.kill('SIGKILL');
      killPid(path.join(mdir, 'hub.pid'));
    });
    const start = async (): Promise<ChildProcess> => {
      const c = spawn(
        process.execPath,
        [
          cli,
          '--config',
          config,
          'manager',
          'run',
          '--dir',
          mdir,
          '--listen',
          listen,
          '--leaf',
          `127.0.0.1:${leafPort}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.add(c);
      c.on('exit', () => children.delete(c));
      let out = '';
      c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await until('manager ready', () => {
        if (c.exitCode !== null) throw new Error(`manager exited: ${out}`);
        return /ready/.test(out);
      });
      return c;
    };
    let m = await start();
    const store = openStore(path.join(tempDir('prune-kill-store'), 'weir.db'));
    seedSite(store, 'a', 1500, 200);
    const a = await NodeRuntime.start({
      kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
      dir: tempDir('prune-kill-site'),
      client: { host: '127.0.0.1', port: await freePort() },
      hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
      local: new MemoryBackend(),
      store,
      publish: { everyMs: 150, fullSweepEvery: 1000 },
      // (no health record in the middle of the counts below)
      healthEveryMs: 3_600_000,
      log: () => undefined,
    });
    stops.push(() => a.stop());
    const mdb = openFleetDb(path.join(mdir, 'manager.db'));
    stops.push(async () => void mdb.close());
    const kept = (): number =>
      n(mdb, "SELECT count(*) AS n FROM fleet_items WHERE site = 'a'") +
      n(mdb, "SELECT count(*) AS n FROM fleet_audit WHERE site = 'a'");
    const ledger = (): number =>
      n(mdb, `SELECT count(*) AS n FROM fleet_records WHERE site = 'a' AND ${AGG}`);
    // Mid-ingest, and after a prune has already taken ledger rows away.
    await until('ingest under way and pruned', () => kept() > 400 && ledger() < kept(), 40_000);
    const at = kept();
    m.kill('SIGKILL');
    killPid(path.join(mdir, 'hub.pid'));
    await new Promise((r) => m.once('exit', r));
    assert.ok(at < 3202, `killed mid-ingest (${at} of 3202 in)`);

    m = await start();
    await until('all records kept', () => kept() === 3202, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${kept()} of 3202`);
    });
    const items = (type: string): number =>
      n(
        mdb,
        "SELECT count(*) AS n FROM fleet_items WHERE site = 'a' AND type = ? AND deleted = 0",
        type,
      );
    assert.equal(items('asset'), 1500);
    assert.equal(items('edge'), 1500);
    assert.equal(items('incident'), 2);
    assert.equal(checkSiteChain(mdb, 'a').status, 'intact');
    // Records the killed manager had stored but not acknowledged hold the site's ack floor (and so the prune)
    // until JetStream delivers them again, ack_wait after their first delivery: wait past it, then some.
    await until('the ledger pruned down', () => ledger() < 50, INGEST_ACK_WAIT_MS + 20_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}: ${ledger()} ledger rows left`);
      },
    );
    const records = (): number => n(mdb, "SELECT records AS n FROM fleet_sites WHERE site = 'a'");
    const before = records();
    assert.ok(before <= 3202 + 50, `records counted once each (${before})`);

    // Copies of pruned records, sent again under new message ids (past JetStream's duplicate window).
    const nc = await connect({
      servers: `127.0.0.1:${a.nc.info!.port}`,
      inboxPrefix: siteInbox('a'),
    });
    stops.push(() => nc.close());
    const js = nc.jetstream({ domain: HUB_DOMAIN, timeout: 3000 });
    const assets = mdb
      .prepare(
        "SELECT key, version, doc FROM fleet_items WHERE site = 'a' AND type = 'asset' LIMIT 100",
      )
      .all() as Array<{ key: string; version: number; doc: string }>;
    const audit = mdb
      .prepare("SELECT * FROM fleet_audit WHERE site = 'a' ORDER BY seq LIMIT 20")
      .all() as Array<Record<string, unknown>>;
    const send = async (kind: string, id: string, body: unknown): Promise<void> => {
      await js.publish(
        `weir.site.a.${kind}`,
        Buffer.from(JSON.stringify({ id, at: Date.now(), kind, body })),
        { msgID: `${id}:again` },
      );
    };
    for (const r of assets)
      await send('inventory', itemId('a', 'asset', r.key, r.version), {
        type: 'asset',
        key: r.key,
        version: r.version,
        doc: JSON.parse(r.doc),
      });
    for (const r of audit)
      await send('auditlog', auditId('a', r.seq as number), {
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        simulationId: r.simulation_id,
        details: r.details,
        prevHash: r.prev_hash,
        hash: r.hash,
        keyId: r.key_id,
        mac: r.mac,
      });
    // A marker after them: once it is in, the copies were taken.
    await send('inventory', itemId('a', 'asset', 'marker', 1), {
      type: 'asset',
      key: 'marker',
      version: 1,
      doc: { ips: ['10.1.9.9'] },
    });
    await until('the marker taken', () => items('asset') === 1501, 20_000);
    assert.equal(kept(), 3203, 'the copies added nothing');
    assert.equal(records() - before, 1, 'only the marker counted as a new record');
    assert.equal(checkSiteChain(mdb, 'a').status, 'intact');
    m.kill('SIGTERM');
  },
);
