// The sites page and the site filter in headless Chromium, over a real fleet: a manager (hub nats-server with
// JetStream) and two sites (leaf nats-servers) on loopback. Both send detections and health; the manager
// publishes a blocklist both apply; one site then goes silent long enough to count as cut off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { readFleetView } from '../../src/fleet/site-view.js';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { haveChromium, logIn, openDashboard, screenshotDir } from '../helpers/browser.js';
import { buildServer } from '../../src/server/app.js';
import { addUsers, freshStore, injectLogin, PASSWORD } from '../server/fixture.js';
import { freePort, MemoryBackend, tempDir, until } from '../fleet/fleet-kit.js';
import { seedSite } from '../fleet/site-store-kit.js';
import { openStore } from '../../src/store/db.js';

const detection = (site: string, n: number, type: string) => ({
  id: `${site}-d${n}`,
  type,
  severity: 'high',
  ts: 1_790_000_000 + n,
  lastTs: 1_790_000_000 + n,
  count: 1,
  src: `10.${site === 'north' ? 1 : 2}.0.${10 + n}`,
  dst: `10.${site === 'north' ? 1 : 2}.0.2`,
  protocol: 'modbus',
  zone: 'control',
  explanation: `${type} at ${site} #${n}`,
  suggestedResponse: 'look',
  status: 'open',
  evidence: { frames: [], fields: {} },
});

test(
  'sites page: two real sites, health, lag, blocklist versions, a cut-off site; the site filter narrows detections',
  { timeout: 120_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const fleetDir = tempDir('fleet-ui');
    const mdir = path.join(fleetDir, 'manager');
    const home = openHome(mdir);
    addSite(home, 'north');
    addSite(home, 'south');
    const leafPort = await freePort();
    const mgr = await ManagerRuntime.start({
      dir: mdir,
      client: { host: '127.0.0.1', port: await freePort() },
      leaf: { host: '127.0.0.1', port: leafPort },
      log: () => undefined,
    });
    const nodes: NodeRuntime[] = [];
    const { dir, db } = freshStore('weir-sites-web-');
    await addUsers(db, [['vera', ['viewer']]]);
    try {
      for (const site of ['north', 'south']) {
        // Each site's own store: assets, edges, incidents and audit entries the manager aggregates.
        const store = openStore(path.join(tempDir(`store-${site}`), 'weir.db'));
        seedSite(store, site, site === 'north' ? 3 : 2, site === 'north' ? 4 : 1);
        nodes.push(
          await NodeRuntime.start({
            kit: readSiteKit(site, path.join(mdir, 'sites', site)),
            dir: tempDir(`site-${site}`),
            client: { host: '127.0.0.1', port: await freePort() },
            hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
            local: new MemoryBackend(),
            healthEveryMs: 300,
            store,
            publish: { everyMs: 200 },
            log: () => undefined,
          }),
        );
      }
      const [north, south] = nodes as [NodeRuntime, NodeRuntime];
      // North follows its SPAN port through weir-capture (as `weir node -i` sets it); south captures nothing live.
      const northCounting = (): void =>
        north.captureStatus({
          program: 'weir-capture',
          counters: {
            captured: 5000,
            receivedByFilter: 5000,
            droppedByKernel: 0,
            droppedByInterface: 0,
          },
        });
      northCounting();
      // South's interface went away before it went silent: its capture stopped, with why.
      south.captureStatus({
        program: 'weir-capture',
        counters: { captured: 70, receivedByFilter: 70, droppedByKernel: 0, droppedByInterface: 0 },
      });
      south.captureStopped('weir-capture stopped: eth2: The interface disappeared', 'weir-capture');
      north.outbox.add('detection', detection('north', 1, 'port_scan'));
      north.outbox.add('detection', detection('north', 2, 'write_to_plc'));
      south.outbox.add('detection', detection('south', 1, 'new_talker'));
      assert.equal(
        await mgr.manager.block(
          { address: '10.1.0.99', ttlSeconds: 3600, comment: 'test' },
          'manager',
        ),
        1,
      );
      await until('both sites report blocklist v1 applied and their detections arrived', () => {
        const v = readFleetView(mgr.db, Date.now());
        const n = mgr.db
          .prepare("SELECT count(*) AS n FROM fleet_records WHERE kind = 'detection'")
          .get() as { n: number };
        const agg = mgr.db
          .prepare("SELECT count(*) AS n FROM fleet_items WHERE type IN ('asset', 'incident')")
          .get() as { n: number };
        const audit = mgr.db.prepare('SELECT count(*) AS n FROM fleet_audit').get() as {
          n: number;
        };
        return (
          n.n === 3 &&
          agg.n === 9 &&
          audit.n === 5 &&
          v.latest.blocklist === 1 &&
          v.sites.length === 2 &&
          v.sites.every((s) => s.applied.blocklist === 1)
        );
      });
      // North's capture counts again now, so its record is fresh when the page is read: a capture goes stale
      // after three health periods (30 s) without news, and a loaded machine can take that long to get here.
      const fresh = Date.now();
      northCounting();
      await until("north's fresh capture record at the manager", () =>
        readFleetView(mgr.db, Date.now()).sites.some(
          (s) => s.name === 'north' && (s.capture?.at ?? 0) >= fresh,
        ),
      );
      // South goes silent; ten minutes of silence stand for themselves by moving its times back.
      await nodes.pop()!.stop();
      mgr.db
        .prepare(
          "UPDATE fleet_sites SET last_seen = last_seen - 600000, last_at = last_at - 600000 WHERE site = 'south'",
        )
        .run();
      // What the manager's intake found of south before it went silent: a flood held back, at the stream's bound.
      await until('the intake counts written', () =>
        Boolean(mgr.db.prepare("SELECT 1 FROM fleet_intake WHERE site = 'north'").get()),
      );
      mgr.db
        .prepare(
          `INSERT INTO fleet_intake (site, held, throttled, at_bound, bound_seen, at) VALUES ('south', 1234, 5, 'detection', 1, 0)
           ON CONFLICT (site) DO UPDATE SET held = 1234, throttled = 5, at_bound = 'detection'`,
        )
        .run();
    } finally {
      for (const n of nodes) await n.stop();
      await mgr.stop();
    }

    // South could not put policy v2 into force before it went silent: the page says which and why (L3).
    const fdb = openFleetDb(path.join(mdir, 'manager.db'));
    try {
      const sh = fdb.prepare("SELECT health FROM fleet_sites WHERE site = 'south'").get() as {
        health: string;
      };
      const notInForce = [
        {
          kind: 'policy',
          version: 2,
          reason:
            'not-applied: this site could not put it into force (br_netfilter is not loaded); it keeps enforcing no fleet policy and tries again',
        },
      ];
      fdb
        .prepare("UPDATE fleet_sites SET health = ? WHERE site = 'south'")
        .run(JSON.stringify({ ...(JSON.parse(sh.health) as object), notInForce }));
    } finally {
      fdb.close();
    }
    const { url, page, errors, close } = await openDashboard(db, dir, { fleetDir: mdir });
    try {
      await logIn(page, url, 'vera', PASSWORD);
      await page.goto(`${url}#/sites`);
      await page.getByTestId('sites').waitFor();
      assert.match(
        await page.getByTestId('site-summary').innerText(),
        /2 sites: 1 ok, 0 stale, 1 cut off/,
      );
      const northRow = await page.locator('tr[data-site=north]').innerText();
      const southRow = await page.locator('tr[data-site=south]').innerText();
      assert.match(northRow, /^north\s+ok\s/);
      assert.match(northRow, /lag \d+ s/);
      assert.match(northRow, /weir-capture: 5,000 received, 0 dropped by kernel, 0 by interface/);
      assert.match(
        southRow,
        /weir-capture: stopped \(weir-capture stopped: eth2: The interface disappeared\); last counted 70 received, 0 dropped by kernel, 0 by interface\s*$/,
      );
      assert.equal(
        await page.locator('tr[data-site=north] [data-testid=capture-blind]').count(),
        0,
      );
      const southBlind = page.locator('tr[data-site=south] [data-testid=capture-blind]');
      assert.equal(await southBlind.getAttribute('class'), 'capture-blind');
      assert.equal(
        await southBlind.evaluate((e) => getComputedStyle(e).backgroundColor),
        'rgb(192, 57, 43)',
      );
      assert.match(northRow, /\d+ waiting/);
      assert.match(northRow, /none published\s+v1 \(latest\)\s+–\s/);
      assert.match(southRow, /policy v2 NOT IN FORCE: not-applied: .*br_netfilter is not loaded/);
      assert.match(southRow, /^south\s+CUT OFF\s/);
      assert.match(southRow, /\(1\d min ago\)\s+lag 1\d min/);
      assert.match(southRow, /v1 \(latest\)/);
      assert.match(northRow, /\s0 held\s/);
      assert.match(southRow, /1234 held, rate-limited 5×; AT BOUND \(detection\)/);
      await page.screenshot({ path: path.join(screenshotDir(), 'sites.png'), fullPage: true });
      // North's capture stalls, then says it runs but is not heard of for minutes: both in red.
      const setNorthCapture = (patch: Record<string, unknown>) => {
        const fdb = openFleetDb(path.join(mdir, 'manager.db'));
        try {
          const row = fdb.prepare("SELECT health FROM fleet_sites WHERE site = 'north'").get() as {
            health: string;
          };
          const h = JSON.parse(row.health) as { capture: Record<string, unknown> };
          h.capture = { ...h.capture, ...patch };
          fdb
            .prepare("UPDATE fleet_sites SET health = ? WHERE site = 'north'")
            .run(JSON.stringify(h));
        } finally {
          fdb.close();
        }
      };
      const northBlind = page.locator('tr[data-site=north] [data-testid=capture-blind]');
      setNorthCapture({ state: 'stalled', reason: 'no counters for 5 s', at: Date.now() });
      await page.reload();
      await northBlind.waitFor();
      assert.match(
        await page.locator('tr[data-site=north]').innerText(),
        /weir-capture: stalled \(no counters for 5 s\); last counted 5,000 received/,
      );
      assert.equal(await northBlind.getAttribute('class'), 'capture-blind');
      setNorthCapture({ state: 'running', reason: null, at: Date.now() - 120_000 });
      await page.reload();
      await page.getByText(/stale: no news since/).waitFor();
      assert.match(await northBlind.innerText(), /^stale: no news since /);

      // The site filter: detections of one site only; pages not aggregated say so.
      await page.goto(`${url}#/detections`);
      await page.getByTestId('site-filter').selectOption('north');
      await page.getByText('Detections at site north').waitFor();
      const northDet = await page.getByTestId('detections').innerText();
      assert.match(northDet, /port_scan at north #1/);
      assert.match(northDet, /write_to_plc at north #2/);
      assert.doesNotMatch(northDet, /south/);
      await page.getByTestId('site-filter').selectOption('south');
      await page.getByText('Detections at site south').waitFor();
      await page.getByText('new_talker at south #1').waitFor();
      const southDet = await page.getByTestId('detections').innerText();
      assert.equal(southDet.trim().split('\n').length, 2, 'header and one detection');
      assert.doesNotMatch(southDet, /north/);
      // Assets, incidents and the audit log of one site, then of all sites with a site column.
      await page.goto(`${url}#/assets`);
      await page.getByText('Assets at site south').waitFor();
      await page.getByText('south-plc-1', { exact: true }).waitFor();
      const southAssets = await page.getByTestId('assets').innerText();
      assert.match(southAssets, /south\s+10\.2\.0\.10\s+south-plc-0/);
      assert.doesNotMatch(southAssets, /north/);
      await page.getByTestId('site-filter').selectOption('north');
      await page.getByText('Assets at site north').waitFor();
      await page.getByText('north-plc-2', { exact: true }).waitFor();
      const northAssets = await page.getByTestId('assets').innerText();
      assert.equal(northAssets.trim().split('\n').length, 4, 'header and three assets');
      assert.doesNotMatch(northAssets, /south/);
      await page.goto(`${url}#/incidents`);
      await page.getByText('Incidents at site north').waitFor();
      await page.getByText('Writes to PLCs at north').waitFor();
      const northInc = await page.getByTestId('incidents').innerText();
      assert.match(northInc, /Scan at north/);
      assert.doesNotMatch(northInc, /south/);
      await page.goto(`${url}#/audit`);
      await page.getByText('Audit log at site north').waitFor();
      assert.match(
        await page.getByTestId('site-chains').innerText(),
        /Site north: audit chain intact at the manager: 4 entries, 1–4\./,
      );
      const northAudit = await page.getByTestId('audit').innerText();
      assert.match(northAudit, /north change 3/);
      assert.doesNotMatch(northAudit, /south/);
      await page.getByTestId('site-filter').selectOption('*');
      await page.getByText('Audit log at all sites').waitFor();
      await page.getByText('south change 0').waitFor();
      assert.match(
        await page.getByTestId('site-chains').innerText(),
        /Site south: audit chain intact/,
      );
      await page.goto(`${url}#/assets`);
      await page.getByText('Assets at all sites').waitFor();
      await page.getByText('5 assets').waitFor();
      await page.goto(`${url}#/overview`);
      await page.getByText('Overview of all sites').waitFor();
      assert.match(
        await page.locator('[data-testid=site-overview] tr[data-site=north]').innerText(),
        /^north\s+3\s+3\s+2 \(1 open\)\s+2\s+intact, 4 entries\s+0$/,
      );
      await page.screenshot({ path: path.join(screenshotDir(), 'sites-all.png'), fullPage: true });
      // The flows page reads the sites' flows too (test/web/site-pages.test.ts goes further).
      await page.goto(`${url}#/flows`);
      await page.getByText('Flows at all sites').waitFor();
      await page.getByTestId('site-filter').selectOption('');
      await page.goto(`${url}#/detections`);
      await page.getByRole('heading', { name: 'Detections', exact: true }).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await close();
      rmSync(fleetDir, { recursive: true, force: true });
    }
  },
);

test('without a fleet manager the sites route says so and lists nothing', async () => {
  const { dir, db } = freshStore('weir-sites-none-');
  await addUsers(db, [['vera', ['viewer']]]);
  const app = await buildServer({ db });
  try {
    const cookie = await injectLogin(app, 'vera');
    const r = await app.inject({ url: '/api/sites', headers: { cookie } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), {
      fleet: false,
      latest: { policy: null, blocklist: null, permits: null, bundle: null },
      sites: [],
    });
    assert.equal((await app.inject({ url: '/api/sites' })).statusCode, 401);
  } finally {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
