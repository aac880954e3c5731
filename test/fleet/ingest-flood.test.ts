// A compromised site flooding the manager, with a real nats-server hub: the flood waits in the stream behind
// the site's own rate (held and throttled counts on manager.db), other sites' records are taken meanwhile, and
// the flood is taken in full, exactly once, when it lets up. At the stream's bound for one (site, kind) the hub
// refuses the site's next records; a real outbox keeps them, the manager shows the site at the bound, and
// nothing is lost once the manager catches up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { addSite, generationOf, openHome } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { Outbox } from '../../src/fleet/outbox.js';
import { readFleetView } from '../../src/fleet/site-view.js';
import { siteUser } from '../../src/fleet/pki.js';
import { HUB_DOMAIN, siteInbox } from '../../src/fleet/subjects.js';
import { freePort, tempDir, until } from './fleet-kit.js';

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
});

const BOUND = 3000;

test(
  'a flooding site is held to its rate without starving others, counted, bounded in the stream, and caught up exactly once',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('flood');
    const mdir = path.join(dir, 'manager');
    const home = openHome(mdir);
    for (const s of ['flood', 'b', 'c']) addSite(home, s);
    const clientPort = await freePort();
    const mgr = await ManagerRuntime.start({
      dir: mdir,
      client: { host: '127.0.0.1', port: clientPort },
      leaf: { host: '127.0.0.1', port: await freePort() },
      siteClients: true,
      log: () => undefined,
      ingest: {
        perSitePerS: 300,
        burstPerSite: 300,
        heldPerSiteKind: BOUND,
        scanEveryMs: 200,
        pruneEveryMs: 500,
      },
    });
    stops.push(() => mgr.stop());
    const db = mgr.db;
    const siteConn = async (s: string): Promise<NatsConnection> => {
      const nc = await connect({
        servers: `127.0.0.1:${clientPort}`,
        user: siteUser(s, generationOf(home, s)),
        inboxPrefix: siteInbox(s),
      });
      stops.push(() => nc.close());
      return nc;
    };
    const outboxOf = async (s: string): Promise<Outbox> => {
      const nc = await siteConn(s);
      const odb = openFleetDb(path.join(dir, `${s}.db`));
      const o = new Outbox(odb, s, { log: () => undefined, maxBackoffMs: 300 });
      o.start(nc.jetstream({ domain: HUB_DOMAIN }));
      stops.push(async () => {
        await o.stop();
        odb.close();
      });
      return o;
    };
    const stored = (site: string): number =>
      (
        db
          .prepare("SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = 'detection'")
          .get(site) as { n: number }
      ).n;
    const intake = (site: string) =>
      db.prepare('SELECT * FROM fleet_intake WHERE site = ?').get(site) as
        | { held: number; throttled: number; at_bound: string | null; bound_seen: number }
        | undefined;

    // The flood: a compromised process with site flood's credentials, publishing as fast as JetStream takes it.
    const fjs = (await siteConn('flood')).jetstream({ domain: HUB_DOMAIN });
    const flood = async (from: number, n: number): Promise<void> => {
      for (let k = from; k < from + n; k += 500) {
        const acks = [];
        for (let j = k; j < Math.min(k + 500, from + n); j++) {
          const id = `flood:x-${j}`;
          acks.push(
            fjs.publish(
              'weir.site.flood.detection',
              Buffer.from(JSON.stringify({ id, at: Date.now(), kind: 'detection', body: { j } })),
              { msgID: id },
            ),
          );
        }
        await Promise.all(acks);
      }
    };
    // b's and c's outboxes connected first: on a loaded machine their start-up (a connection, a database) could
    // otherwise outlast the flood's 7 s, and they would find nothing left to be fair against.
    const b = await outboxOf('b');
    const c = await outboxOf('c');
    await flood(0, 2500);
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) {
      b.add('detection', { i });
      c.add('detection', { i });
    }
    await until('b and c taken', () => stored('b') === 50 && stored('c') === 50, 20_000);
    const took = Date.now() - t0;
    const floodThen = stored('flood');
    // (At its rate the flood takes over 7 s; the one consumer of before took b and c only after all of it.)
    assert.ok(
      floodThen < 2500,
      `b and c were not queued behind the flood (${floodThen} of it in after ${took} ms)`,
    );
    await until('the flood shown as held and throttled', () => {
      const r = intake('flood');
      return r !== undefined && r.held > 0 && r.throttled > 0;
    });
    // Its rate: about 300/s after a burst of 300, never the whole flood at once.
    const s1 = stored('flood');
    await new Promise((r) => setTimeout(r, 2000));
    const perS = (stored('flood') - s1) / 2;
    assert.ok(perS <= 450, `the flood taken at ${perS}/s, its limit 300/s`);
    await until('the flood taken in full', () => stored('flood') === 2500, 30_000);
    await until('held back to 0', () => intake('flood')?.held === 0, 5000);

    // The bound: the manager nearly stopped for flood; what the stream already took is purged first.
    mgr.manager.setIngestRate(1, 1);
    // (a pull already asked for under the old rate ends within 2 s)
    await new Promise((r) => setTimeout(r, 2500));
    await mgr.manager.prune();
    await flood(2500, BOUND);
    // One more than the bound, from flood's real outbox: the hub refuses it, the outbox keeps it.
    const fo = await outboxOf('flood');
    for (let i = 0; i < 20; i++) fo.add('detection', { late: i });
    await until('the outbox refused at the bound', () => fo.lastError !== null, 10_000);
    assert.match(fo.lastError!, /maximum messages per subject/i);
    assert.ok(fo.pending > 0);
    await until('the manager shows the site at the bound', () => {
      const r = intake('flood');
      return r?.at_bound === 'detection' && r.bound_seen > 0;
    });
    const shown = readFleetView(db, Date.now()).sites.find((s) => s.name === 'flood')!;
    assert.deepEqual(shown.intake?.atBound, ['detection'], 'the sites page shows it');
    assert.ok(shown.intake!.held > 0);
    // Other kinds of the same site and other sites go on.
    b.add('detection', { after: 1 });
    await until('b still taken', () => stored('b') === 51, 10_000);

    // The flood lets up (the rate is back): everything, the refused 20 included, is taken exactly once.
    mgr.manager.setIngestRate(2000, 2000);
    await until('all of flood taken', () => stored('flood') === 2500 + BOUND + 20, 60_000);
    await until('the outbox drained', () => fo.pending === 0, 20_000);
    await until('no longer at the bound', () => intake('flood')?.at_bound === null, 10_000);
    const ids = db
      .prepare("SELECT count(DISTINCT id) AS n FROM fleet_records WHERE site = 'flood'")
      .get() as { n: number };
    assert.equal(ids.n, 2500 + BOUND + 20);
  },
);
