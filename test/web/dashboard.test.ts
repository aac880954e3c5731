import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { haveChromium, openDashboard, screenshotDir } from '../helpers/browser.js';
import { repoRoot } from '../helpers/paths.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';

const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const PASSWORD = 'analyst-password-1';

test(
  'dashboard in headless Chromium: log in, every page shows the plant, act on a detection',
  { timeout: 120_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-web-'));
    const shots = screenshotDir();
    const file = detectedPlantStore(dir);
    const weir = (args: string[], input?: string) =>
      execFileSync(process.execPath, [cli, ...args], { input, stdio: ['pipe', 'ignore', 'pipe'] });
    // The first user of a store is its admin; the admin adds ana.
    weir(
      ['user', 'add', 'root', '--role', 'admin', '--db', file, '--password-stdin'],
      `${PASSWORD}\n`,
    );
    weir(
      ['login', '--db', file, '--user', 'root', '--token-file', path.join(dir, 'root-token')],
      `${PASSWORD}\n`,
    );
    weir(
      [
        'user',
        'add',
        'ana',
        '--role',
        'analyst',
        '--db',
        file,
        '--password-stdin',
        '--token-file',
        path.join(dir, 'root-token'),
      ],
      `${PASSWORD}\n`,
    );
    const db = openStore(file);
    const { url, page, errors, close } = await openDashboard(db, dir);
    try {
      const shot = (name: string) =>
        page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
      await page.goto(url);
      await page.fill('input[name=user]', 'ana');
      await page.fill('input[name=password]', 'wrong password');
      await page.click('button[type=submit]');
      await page.getByRole('alert').waitFor();
      assert.match(await page.getByRole('alert').innerText(), /wrong user or password/);
      await page.fill('input[name=password]', PASSWORD);
      await page.click('button[type=submit]');

      await page.getByTestId('health').waitFor();
      assert.equal(await page.getByTestId('asset-count').innerText(), '7');
      assert.match(
        await page.getByTestId('health').innerText(),
        /7 assets on the map.*open detections/,
      );
      await shot('overview');

      await page.click('a[href="#/assets"]');
      await page.getByTestId('assets').waitFor();
      assert.ok((await page.locator('[data-testid=assets] tbody tr').count()) >= 7);
      await page.getByLabel('search').fill('SNAP7');
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid=assets] tbody tr').length === 1,
      );
      await shot('assets');
      await page.click('[data-testid=assets] tbody tr a');
      await page.getByTestId('asset-edges').waitFor();
      assert.match(await page.locator('h1').innerText(), /SNAP7-SERVER/);
      assert.match(await page.locator('.facts').innerText(), /Siemens/);
      await shot('asset');

      await page.click('a[href="#/map"]');
      await page.getByTestId('map-summary').waitFor();
      await page.locator('[data-testid=map] canvas').first().waitFor();
      assert.match(
        await page.getByTestId('map-summary').innerText(),
        /\d+ assets, \d+ of \d+ communicating pairs/,
      );
      await shot('map');

      await page.click('a[href="#/flows"]');
      await page.getByTestId('flows-plant').waitFor();
      await page.locator('[data-testid=flows-plant] canvas').waitFor();
      assert.match(
        await page.getByTestId('flows-plant').innerText(),
        /zone plant: packets per minute/,
      );
      await shot('flows');

      await page.click('a[href="#/detections"]');
      await page.getByTestId('detections').waitFor();
      const rows = page.locator('[data-testid=detections] tbody tr');
      assert.equal(await rows.count(), 6);
      const stop = rows.filter({ hasText: 'cpu_stop' });
      await stop.click();
      assert.match(await page.locator('.evidence').innerText(), /Suggested response/);
      await stop.getByRole('button', { name: 'Acknowledge' }).click();
      await page.getByRole('status').waitFor();
      assert.match(
        await page.getByRole('status').innerText(),
        /acknowledge cpu_stop 10\.77\.0\.30 → 10\.77\.0\.22: done/,
      );
      await page.waitForFunction(
        () =>
          document.querySelectorAll('[data-testid=detections] tbody tr:not(.evidence)').length ===
          5,
      );
      await shot('detections');

      // Learn asks first: what becomes normal, and a warning to tick before an intruder's write can be learned.
      const visible = (n: number) =>
        page.waitForFunction(
          (k) =>
            document.querySelectorAll('[data-testid=detections] tbody tr:not(.evidence)').length ===
            k,
          n,
        );
      const statusSays = (re: RegExp) =>
        page.waitForFunction(
          (src) => new RegExp(src).test(document.querySelector('[role=status]')?.textContent ?? ''),
          re.source,
        );
      await rows
        .filter({ hasText: 'write_new_range' })
        .first()
        .getByRole('button', { name: 'Learn' })
        .click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      assert.match(
        await dialog.innerText(),
        /Becomes normal: 10\.77\.0\.66 → 10\.77\.0\.21 may write (coil|holding_register):/,
      );
      assert.match(
        await dialog.getByRole('alert').innerText(),
        /(high|critical) detection[\s\S]*10\.77\.0\.66 is not in the baseline/,
      );
      assert.equal(
        await dialog.getByRole('button', { name: 'Learn it anyway' }).isDisabled(),
        true,
        'no one-click learn of a risky detection',
      );
      await shot('learn-confirm');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      await visible(5);
      await rows.filter({ hasText: 'new_edge' }).getByRole('button', { name: 'Learn' }).click();
      await dialog.getByRole('checkbox').check();
      await dialog.getByRole('button', { name: 'Learn it anyway' }).click();
      await statusSays(/learn new_edge 10\.77\.0\.66 → 10\.77\.0\.21: done \(baseline v2\)/);
      await visible(4);

      // A mute can be undone from the muted list.
      page.once('dialog', (d) => void d.accept('pen test'));
      await rows.filter({ hasText: 'port_scan' }).getByRole('button', { name: 'Mute' }).click();
      await statusSays(/mute port_scan .*: done/);
      await visible(3);
      await page.getByLabel('status').selectOption('muted');
      await visible(1);
      await rows.getByRole('button', { name: 'Unmute' }).click();
      await statusSays(/unmute port_scan 10\.77\.0\.66 → 10\.77\.0\.21: done/);
      await visible(0);
      await page.getByLabel('status').selectOption('open');
      await visible(4);

      for (const [href, check] of [
        ['#/policy', /No active policy|Simulations/],
        ['#/approvals', /Approvals/],
      ] as const) {
        await page.click(`a[href="${href}"]`);
        await page.locator('main').filter({ hasText: check }).waitFor();
        assert.match(await page.locator('main').innerText(), check);
        await shot(href.slice(2));
      }
      await page.click('a[href="#/audit"]');
      await page.getByTestId('audit').waitFor();
      assert.match(await page.getByTestId('chain').innerText(), /intact/);
      assert.match(await page.getByTestId('audit-proves').innerText(), /proves/i);
      assert.match(await page.getByTestId('audit').innerText(), /ana\s+detection\.acknowledged/);
      assert.match(await page.getByTestId('audit').innerText(), /ana\s+detection\.learned/);
      assert.match(await page.getByTestId('audit').innerText(), /ana\s+detection\.unmuted/);
      await shot('audit');

      await page.click('text=Log out');
      await page.locator('input[name=user]').waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  },
);
