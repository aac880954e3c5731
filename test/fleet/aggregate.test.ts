// A site's inventory, incidents and audit log reaching the manager, with real nats-server processes on
// loopback: exactly once, across a cut link and across a kill -9 of the manager (and its hub) mid-ingest; a
// site publishing as another is refused, the site a record claims is ignored for the subject's, and malformed
// or oversize records are counted and refused without stopping the intake.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from 'nats';
import { cli } from '../helpers/weir-cli.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { openFleetDb, type FleetDb } from '../../src/fleet/fleet-db.js';
import { checkSiteChain, readRejects } from '../../src/fleet/aggregate-store.js';
import { HUB_DOMAIN, siteInbox } from '../../src/fleet/subjects.js';
import { openStore } from '../../src/store/db.js';
import { appendAudit } from '../../src/store/audit-store.js';
import { saveIncidents } from '../../src/store/incident-store.js';
import { freePort, Link, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';
import { asset, incident, putAsset, putEdge, seedSite } from './site-store-kit.js';

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
});

const n = (db: FleetDb, sql: string, ...args: unknown[]): number =>
  (db.prepare(sql).get(...args) as { n: number }).n;
const items = (db: FleetDb, site: string, type: string): number =>
  n(
    db,
    'SELECT count(*) AS n FROM fleet_items WHERE site = ? AND type = ? AND deleted = 0',
    site,
    type,
  );
const ledger = (db: FleetDb, site: string, kind: string): number =>
  n(db, 'SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = ?', site, kind);

async function site(
  mdir: string,
  name: string,
  hubPort: number,
  store: ReturnType<typeof openStore>,
): Promise<NodeRuntime> {
  const rt = await NodeRuntime.start({
    kit: readSiteKit(name, path.join(mdir, 'sites', name)),
    dir: tempDir(`agg-site-${name}`),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${hubPort}`],
    local: new MemoryBackend(),
    store,
    publish: { everyMs: 150, fullSweepEvery: 5 },
    log: () => undefined,
  });
  stops.push(() => rt.stop());
  return rt;
}

test(
  "two sites' inventory, incidents and audit arrive once each, per site; updates win by version; a cut link delays, loses nothing",
  { timeout: 90_000 },
  async () => {
    const mdir = path.join(tempDir('agg'), 'manager');
    const home = openHome(mdir);
    addSite(home, 'a');
    addSite(home, 'b');
    const { mgr, leafPort } = await startManager(mdir, stops);
    const link = await Link.open(leafPort);
    stops.push(() => link.close());
    const storeA = openStore(path.join(tempDir('agg-store-a'), 'weir.db'));
    const storeB = openStore(path.join(tempDir('agg-store-b'), 'weir.db'));
    seedSite(storeA, 'a', 20, 5);
    seedSite(storeB, 'b', 3, 2);
    const a = await site(mdir, 'a', link.port, storeA);
    await site(mdir, 'b', leafPort, storeB);
    const db = mgr.db;
    await until(
      'both sites aggregated',
      () =>
        items(db, 'a', 'asset') === 20 &&
        items(db, 'a', 'edge') === 20 &&
        items(db, 'a', 'incident') === 2 &&
        n(db, "SELECT count(*) AS n FROM fleet_audit WHERE site = 'a'") === 5 &&
        items(db, 'b', 'asset') === 3 &&
        n(db, "SELECT count(*) AS n FROM fleet_audit WHERE site = 'b'") === 2,
      30_000,
    );
    // Full sweeps ran meanwhile: nothing unchanged went out twice.
    assert.equal(ledger(db, 'a', 'inventory'), 40);
    assert.equal(ledger(db, 'a', 'incident'), 2);
    assert.equal(ledger(db, 'a', 'auditlog'), 5);
    assert.equal(checkSiteChain(db, 'a').status, 'intact');
    assert.equal(checkSiteChain(db, 'b').status, 'intact');
    assert.equal(
      n(db, "SELECT count(*) AS n FROM fleet_items WHERE site = 'b' AND key LIKE '10.1.%'"),
      0,
      "a's addresses are not b's",
    );

    // The link cut: the site changes meanwhile (an asset renamed, an incident closed, a new asset, audit).
    link.cut();
    const renamed = { ...asset('10.1.0.10', 'a-plc-renamed', 2000) };
    putAsset(storeA, renamed);
    putAsset(storeA, asset('10.1.0.200', 'a-new', 2000));
    putEdge(storeA, '10.1.0.2', '10.1.0.200', 2000);
    saveIncidents(
      storeA,
      [incident('a-inc-1', 'Writes to PLCs at a', 'closed', '2026-11-27T11:00:00.000Z')],
      [],
    );
    for (let i = 0; i < 3; i++)
      appendAudit(storeA, { actor: 'a-admin', action: 'x', subject: `offline ${i}` });
    await until('the site queued them', () => a.outbox.pending >= 7, 10_000);
    assert.equal(items(db, 'a', 'asset'), 20, 'nothing new while cut');
    link.restore();
    await until(
      'the changes arrived',
      () =>
        items(db, 'a', 'asset') === 21 &&
        n(db, "SELECT count(*) AS n FROM fleet_audit WHERE site = 'a'") === 8 &&
        n(
          db,
          "SELECT count(*) AS n FROM fleet_items WHERE site = 'a' AND key = 'a-inc-1' AND version = 2",
        ) === 1,
      30_000,
    );
    await a.outbox.drain(5000);
    const doc = (key: string): { hostnames: string[]; status: string } =>
      JSON.parse(
        (
          db.prepare("SELECT doc FROM fleet_items WHERE site = 'a' AND key = ?").get(key) as {
            doc: string;
          }
        ).doc,
      );
    assert.deepEqual(doc('10.1.0.10').hostnames, ['a-plc-renamed']);
    assert.equal(doc('a-inc-1').status, 'closed');
    assert.equal(ledger(db, 'a', 'inventory'), 43, '40 + a renamed asset, a new asset, a new edge');
    assert.equal(ledger(db, 'a', 'incident'), 3);
    assert.equal(ledger(db, 'a', 'auditlog'), 8);
    assert.equal(checkSiteChain(db, 'a').status, 'intact');
    assert.equal(mgr.manager.duplicates, 0);

    // An asset gone from the site (merged into another) goes as a tombstone on the next full sweep.
    storeA.prepare("DELETE FROM assets WHERE id = '10.1.0.200'").run();
    await until('the tombstone arrived', () => items(db, 'a', 'asset') === 20, 15_000);
  },
);

test(
  'site a cannot publish as b; the site a record claims is ignored; malformed and oversize records are counted and refused',
  { timeout: 60_000 },
  async () => {
    const mdir = path.join(tempDir('agg-attack'), 'manager');
    const home = openHome(mdir);
    addSite(home, 'a');
    addSite(home, 'b');
    const { mgr, leafPort } = await startManager(mdir, stops);
    const storeA = openStore(path.join(tempDir('agg-attack-a'), 'weir.db'));
    const a = await site(mdir, 'a', leafPort, storeA);
    // A compromised process at site a, straight on a's leaf.
    // (a's own inbox prefix: the hub answers a site only under it)
    const nc = await connect({
      servers: `127.0.0.1:${a.nc.info!.port}`,
      inboxPrefix: siteInbox('a'),
    });
    stops.push(() => nc.close());
    const js = nc.jetstream({ domain: HUB_DOMAIN, timeout: 1500 });
    const rec = (id: string, kind: string, body: unknown): Uint8Array =>
      Buffer.from(JSON.stringify({ id, at: 1, kind, body }));
    const forged = {
      type: 'asset',
      key: '10.2.0.66',
      version: 99,
      site: 'b',
      doc: { ...asset('10.2.0.66', 'forged'), site: 'b' },
    };
    for (const kind of ['inventory', 'incident', 'auditlog'])
      await assert.rejects(
        js.publish(`weir.site.b.${kind}`, rec(`b:forged-${kind}`, kind, forged), {
          msgID: `b:forged-${kind}`,
        }),
        `the hub refuses a's ${kind} under b`,
      );
    // On its own subject, claiming b in the body: kept as a's.
    await js.publish('weir.site.a.inventory', rec('a:claims-b', 'inventory', forged), {
      msgID: 'a:claims-b',
    });
    // Malformed: not JSON, no key, a wrong type for the kind, an audit entry without hashes, another site's id,
    // and one past the size bound; then a good one after them all.
    const bad: Array<[string, Uint8Array]> = [
      ['inventory', Buffer.from('{not json')],
      ['inventory', rec('a:m1', 'inventory', { type: 'asset', version: 1, doc: {} })],
      ['incident', rec('a:m2', 'incident', { type: 'asset', key: 'x', version: 1, doc: {} })],
      [
        'auditlog',
        rec('a:m3', 'auditlog', {
          seq: 1,
          at: 'now',
          actor: 'x',
          action: 'y',
          subject: '',
          details: '{}',
        }),
      ],
      ['inventory', rec('b:m4', 'inventory', { type: 'edge', key: 'e', version: 1, doc: {} })],
      [
        'inventory',
        rec('a:m5', 'inventory', {
          type: 'asset',
          key: 'big',
          version: 1,
          doc: { pad: 'x'.repeat(300_000) },
        }),
      ],
      [
        'inventory',
        rec('a:m6', 'inventory', {
          type: 'edge',
          key: 'ok-edge',
          version: 1,
          doc: { id: 'ok-edge' },
        }),
      ],
    ];
    let i = 0;
    for (const [kind, data] of bad)
      await js.publish(`weir.site.a.${kind}`, data, { msgID: `a:bad-${i++}` });
    const db = mgr.db;
    await until('the good record after the bad ones', () => items(db, 'a', 'edge') === 1, 15_000);
    assert.equal(
      n(db, "SELECT count(*) AS n FROM fleet_items WHERE site = 'a' AND key = '10.2.0.66'"),
      1,
      'the record claiming site b is kept under a',
    );
    assert.equal(n(db, "SELECT count(*) AS n FROM fleet_items WHERE site = 'b'"), 0);
    const rejects = readRejects(db);
    const total = rejects.reduce((s, r) => s + r.n, 0);
    assert.equal(total, 6, JSON.stringify(rejects));
    const reasons = rejects.map((r) => `${r.kind}: ${r.reason}`).join('\n');
    assert.match(reasons, /inventory: not JSON/);
    assert.match(reasons, /inventory: malformed: no key/);
    assert.match(reasons, /incident: malformed: type asset is not a incident/);
    assert.match(reasons, /auditlog: malformed: /);
    assert.match(reasons, /inventory: id is not the site's/);
    assert.match(reasons, /inventory: too large/);
    assert.ok(rejects.every((r) => r.site === 'a'));

    // A tampered audit entry and a gap: reported, not hidden.
    const entry = (seq: number, prev: string, hash: string) =>
      rec(`a:auditlog:${seq}`, 'auditlog', {
        seq,
        at: '2026-11-27T10:00:00.000Z',
        actor: 'x',
        action: 'y',
        subject: 'z',
        simulationId: null,
        details: '{}',
        prevHash: prev,
        hash,
        keyId: null,
        mac: null,
      });
    await js.publish('weir.site.a.auditlog', entry(1, '', 'a'.repeat(64)), {
      msgID: 'a:auditlog:1',
    });
    await js.publish('weir.site.a.auditlog', entry(3, 'b'.repeat(64), 'c'.repeat(64)), {
      msgID: 'a:auditlog:3',
    });
    await until(
      'the entries kept',
      () => n(db, "SELECT count(*) AS n FROM fleet_audit WHERE site = 'a'") === 2,
    );
    const chain = checkSiteChain(db, 'a');
    assert.equal(chain.status, 'tampered');
    assert.deepEqual(
      chain.problems.map((p) => `${p.seq} ${p.problem}`),
      [
        '1 hash does not match the entry',
        '3 entries 2–2 missing',
        '3 hash does not match the entry',
      ],
    );
  },
);

test(
  'kill -9 of the manager and its hub mid-ingest: after restart every record is there exactly once',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('agg-kill');
    const mdir = path.join(dir, 'manager');
    const home = openHome(mdir);
    addSite(home, 'a');
    const listen = `127.0.0.1:${await freePort()}`;
    const leafPort = await freePort();
    const children = new Set<ChildProcess>();
    stops.push(async () => {
      for (const c of children) c.kill('SIGKILL');
      killPid(path.join(mdir, 'hub.pid'));
    });
    let err = (): string => '';
    const start = async (): Promise<ChildProcess> => {
      const c = spawn(
        process.execPath,
        [
          cli,
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
      err = () => out.slice(-3000);
      await until('manager ready', () => {
        if (c.exitCode !== null) throw new Error(`manager exited: ${out}`);
        return /ready/.test(out);
      });
      return c;
    };
    let m = await start();
    const store = openStore(path.join(tempDir('agg-kill-store'), 'weir.db'));
    seedSite(store, 'a', 1500, 200);
    await site(mdir, 'a', leafPort, store);
    const mdb = openFleetDb(path.join(mdir, 'manager.db'));
    stops.push(async () => void mdb.close());
    const count = (): number =>
      n(mdb, "SELECT count(*) AS n FROM fleet_records WHERE site = 'a' AND kind <> 'health'");
    await until('ingest under way', () => count() > 0, 30_000);
    const at = count();
    m.kill('SIGKILL');
    killPid(path.join(mdir, 'hub.pid'));
    await new Promise((r) => m.once('exit', r));
    assert.ok(at < 3202, `killed mid-ingest (${at} of 3202 in)`);
    m = await start();
    await until('all records in', () => count() === 3202, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${count()} of 3202; manager said: ${err()}`);
    });
    assert.equal(items(mdb, 'a', 'asset'), 1500);
    assert.equal(items(mdb, 'a', 'edge'), 1500);
    assert.equal(items(mdb, 'a', 'incident'), 2);
    assert.equal(n(mdb, "SELECT count(*) AS n FROM fleet_audit WHERE site = 'a'"), 200);
    assert.equal(checkSiteChain(mdb, 'a').status, 'intact');
    m.kill('SIGTERM');
  },
);

function killPid(file: string): void {
  try {
    process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL');
  } catch {
    // gone already
  }
}
