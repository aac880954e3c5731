// A site's lag on the Sites page without trusting its clock against the manager's, with a real nats-server hub
// and real outboxes. Found this way (main at 514d8db): lagSeconds was the manager's now minus the site's time of
// its newest record, so a site whose clock ran an hour slow showed an hour of lag with nothing waiting, and one an
// hour fast showed none with a record two minutes late. Now the site stamps its clock as it sends (the record's
// wait on the site, one clock) and the hub's time of storing counts from there (the manager's side).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { connect } from 'nats';
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

const HOUR = 3_600_000;
const SITES = { ahead: HOUR, behind: -HOUR, true: 0 } as const;

test("a site's lag is its newest record's wait on the site plus its time since the hub stored it: no clock offset", async () => {
  const dir = tempDir('lag');
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of Object.keys(SITES)) addSite(home, s);
  const clientPort = await freePort();
  const mgr = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: clientPort },
    leaf: { host: '127.0.0.1', port: await freePort() },
    siteClients: true,
    log: () => undefined,
  });
  stops.push(() => mgr.stop());
  const outboxes = new Map<string, Outbox>();
  for (const [s, skew] of Object.entries(SITES)) {
    const nc = await connect({
      servers: `127.0.0.1:${clientPort}`,
      user: siteUser(s, generationOf(home, s)),
      inboxPrefix: siteInbox(s),
    });
    stops.push(() => nc.close());
    const odb = openFleetDb(path.join(dir, `${s}.db`));
    // The site's clock, `skew` off the manager's.
    const o = new Outbox(odb, s, { log: () => undefined, now: () => Date.now() + skew });
    o.start(nc.jetstream({ domain: HUB_DOMAIN }));
    stops.push(async () => {
      await o.stop();
      odb.close();
    });
    outboxes.set(s, o);
  }
  const lags = (): Record<string, number> =>
    Object.fromEntries(readFleetView(mgr.db, Date.now()).sites.map((v) => [v.name, v.lagSeconds]));
  const taken = (n: number) => () =>
    Object.keys(SITES).every(
      (s) =>
        (
          mgr.db.prepare('SELECT count(*) AS n FROM fleet_records WHERE site = ?').get(s) as {
            n: number;
          }
        ).n === n,
    );

  // Each site's newest record was made two minutes before it could be sent (a backlog), on its own clock; sent
  // in one batch with older ones, each stamped and each taken once.
  for (const [s, skew] of Object.entries(SITES))
    for (const ago of [180_000, 150_000, 120_000])
      outboxes.get(s)!.add('detection', { ago }, Date.now() + skew - ago);
  await until('the late records taken', taken(3), 20_000);
  for (const [s, lag] of Object.entries(lags()))
    assert.ok(lag >= 119 && lag <= 125, `${s}: ${lag} s, not about 120`);

  // Then records made as they are sent: no lag, whichever way the site's clock is off.
  for (const s of Object.keys(SITES)) outboxes.get(s)!.add('detection', { now: true });
  await until('the fresh records taken', taken(4), 20_000);
  for (const [s, lag] of Object.entries(lags())) assert.ok(lag <= 3, `${s}: ${lag} s, not about 0`);
});
