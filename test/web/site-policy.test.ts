// The policy, approvals and playbooks pages and the zone column over sites' change control, in headless
// Chromium, over a real fleet (a hub nats-server and two site leaf servers on loopback). North's policy has a
// zone naming south's addresses; south's own policy names a zone `control` too: each site's assets are placed
// by their own site's policy only, and the pages are read-only views of what each site sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { fleetPlaybooks, fleetPolicies, fleetProposals } from '../../src/fleet/policy-read.js';
import { haveChromium, logIn, openDashboard, screenshotDir } from '../helpers/browser.js';
import { addUsers, freshStore, PASSWORD } from '../server/fixture.js';
import { freePort, MemoryBackend, tempDir, until } from '../fleet/fleet-kit.js';
import { seedSite } from '../fleet/site-store-kit.js';
import {
  approve,
  playbookBlock,
  propose,
  setPolicy,
  SITE_POLICY,
} from '../fleet/site-policy-kit.js';
import { openStore } from '../../src/store/db.js';

const SOUTH_POLICY = `weir: policy/1
site: south
timezone: UTC
zones:
  - { name: control, members: [10.2.0.0/24], mode: enforce }
conduits: []
groups: []
`;

test(
  "policy, approvals and playbooks pages with ?site=; each site's assets in its own site's zones",
  { timeout: 120_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const fleetDir = tempDir('fleet-policy-ui');
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
    const { dir, db } = freshStore('weir-site-policy-web-');
    // An approver on the manager: even so, a site's proposal offers no approve button here.
    await addUsers(db, [['sam', ['security', 'engineering']]]);
    try {
      const north = openStore(path.join(tempDir('store-north'), 'weir.db'));
      seedSite(north, 'north', 3, 0);
      const sha = setPolicy(north, SITE_POLICY('monitor', 'north'));
      approve(north, propose(north, sha, 'eve'), 'olga', 'security');
      playbookBlock(north, 'pb-north-1', '10.1.0.99');
      const south = openStore(path.join(tempDir('store-south'), 'weir.db'));
      seedSite(south, 'south', 2, 0);
      setPolicy(south, SOUTH_POLICY);
      for (const [site, store] of [
        ['north', north],
        ['south', south],
      ] as const)
        nodes.push(
          await NodeRuntime.start({
            kit: readSiteKit(site, path.join(mdir, 'sites', site)),
            dir: tempDir(`site-${site}`),
            client: { host: '127.0.0.1', port: await freePort() },
            hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
            local: new MemoryBackend(),
            store,
            publish: { everyMs: 200 },
            log: () => undefined,
          }),
        );
      await until(
        'both policies, the proposal and the playbook action arrived',
        () =>
          fleetPolicies(mgr.db, '*').sites.length === 2 &&
          fleetProposals(mgr.db, 'north').items.length === 1 &&
          fleetPlaybooks(mgr.db, 'north', 10).actions.length === 1 &&
          (
            mgr.db.prepare("SELECT count(*) AS n FROM fleet_items WHERE type = 'asset'").get() as {
              n: number;
            }
          ).n === 5,
        30_000,
      );
    } finally {
      for (const n of nodes) await n.stop();
      await mgr.stop();
    }

    const { url, page, errors, close } = await openDashboard(db, dir, { fleetDir: mdir });
    try {
      await logIn(page, url, 'sam', PASSWORD);
      await page.goto(`${url}#/policy`);
      await page.getByTestId('site-filter').selectOption('north');
      await page.getByText('Policy at site north').waitFor();
      const zones = await page.locator('[data-site=north] [data-testid=site-zones]').innerText();
      assert.match(zones, /control\s+monitor\s+10\.1\.0\.0\/24\s+3\s+1\s+security, engineering/);
      assert.match(zones, /other-cell\s+observe\s+10\.2\.0\.0\/16\s+0\s+0/);
      assert.match(await page.getByTestId('read-only').innerText(), /Read-only/);
      assert.equal(await page.locator('[data-site=south]').count(), 0, 'only north');
      await page.getByTestId('site-filter').selectOption('*');
      await page.getByText('Policy at all sites').waitFor();
      await page.locator('[data-site=south]').waitFor();
      assert.match(
        await page.locator('[data-site=south] [data-testid=site-zones]').innerText(),
        /control\s+enforce\s+10\.2\.0\.0\/24\s+2\s/,
      );
      await page.screenshot({
        path: path.join(screenshotDir(), 'site-policy.png'),
        fullPage: true,
      });

      // Zones of each site's assets: north's other-cell names south's addresses, yet south's are south's own.
      await page.goto(`${url}#/assets`);
      await page.getByText('Assets at all sites').waitFor();
      await page.getByText('5 assets').waitFor();
      const assets = await page.getByTestId('assets').innerText();
      assert.match(assets, /north\s+10\.1\.0\.10\s+north-plc-0\s+plc\s+control/);
      assert.match(assets, /south\s+10\.2\.0\.10\s+south-plc-0\s+plc\s+control/);
      assert.doesNotMatch(assets, /other-cell/);
      const map = (await page.evaluate(() => fetch('/api/map?site=*').then((r) => r.json()))) as {
        nodes: Array<{ site: string; zone: string | null }>;
      };
      assert.ok(map.nodes.length > 0);
      assert.ok(map.nodes.every((n) => n.zone === 'control'));
      await page.goto(`${url}#/map`);
      await page.getByText('Network map at all sites').waitFor();
      await page.getByTestId('map-summary').waitFor();

      // Approvals: north's proposal and its approval, read-only even for an approver of this manager.
      await page.goto(`${url}#/approvals`);
      await page.getByText('Approvals at all sites').waitFor();
      const props = await page.getByTestId('site-proposals').innerText();
      assert.match(
        props,
        /north\s+1\s+zone_promotion → enforce control to enforce\s+control\s+eve\s+open\s+security, engineering\s+olga \(security\)/,
      );
      assert.equal(await page.getByRole('button', { name: /Approve/ }).count(), 0);
      // A slow manager: south's answer takes a while. Meanwhile north's proposals must not stand under
      // "Approvals at site south" (the page once kept the previous answer until the new one came).
      await page.route(/\/api\/proposals\?site=south/, async (r) => {
        await new Promise((res) => setTimeout(res, 1500));
        await r.continue();
      });
      await page.getByTestId('site-filter').selectOption('south');
      await page.getByText('Approvals at site south').waitFor();
      assert.equal(
        await page.getByTestId('site-proposals').count(),
        0,
        'nothing shown while loading',
      );
      await page.getByTestId('site-proposals').waitFor();
      assert.equal(
        (await page.getByTestId('site-proposals').innerText()).trim().split('\n').length,
        1,
        'south has none',
      );

      // Playbooks: north's pre-approved playbook and its block; no undo from the manager.
      await page.getByTestId('site-filter').selectOption('north');
      await page.goto(`${url}#/playbooks`);
      await page.getByText('Playbooks at site north').waitFor();
      assert.match(
        await page.getByTestId('site-playbooks').innerText(),
        /north\s+control\s+contain-scans\s+act\s+port_scan\s+block source 600 s, notify\s+5 per 600 s/,
      );
      assert.match(
        await page.getByTestId('site-playbook-actions').innerText(),
        /north\s+.+\s+control\/contain-scans \(act\)\s+block_source\s+10\.1\.0\.99\s+done/,
      );
      assert.equal(await page.getByRole('button', { name: 'Undo' }).count(), 0);
      await page.screenshot({
        path: path.join(screenshotDir(), 'site-playbooks.png'),
        fullPage: true,
      });

      // This server's own pages are back with the filter cleared.
      await page.getByTestId('site-filter').selectOption('');
      await page.getByRole('heading', { name: 'Playbooks', exact: true }).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await close();
      rmSync(fleetDir, { recursive: true, force: true });
    }
  },
);
