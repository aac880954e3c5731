// The incidents page in headless Chromium: the list, one incident's timeline with its detections and evidence,
// acting on it, and a detection's link to its incident.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { haveChromium, logIn, openDashboard, screenshotDir } from '../helpers/browser.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { addUsers, PASSWORD } from '../server/fixture.js';

test(
  'incidents page: list, timeline with evidence, acknowledge and note, detection → incident link',
  { timeout: 120_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-web-inc-'));
    const shots = screenshotDir();
    const db = openStore(detectedPlantStore(dir));
    await addUsers(db, [['ana', ['analyst']]]);
    const { url, page, errors, close } = await openDashboard(db, dir);
    try {
      await logIn(page, url, 'ana', PASSWORD);

      // The overview counts open incidents and lists the latest.
      await page.getByTestId('latest-incidents').waitFor();
      assert.equal(await page.getByTestId('open-incidents').innerText(), '2');
      await page.click('nav a[href="#/incidents"]');
      await page.getByTestId('incidents').waitFor();
      assert.equal(await page.locator('[data-testid=incidents] tbody tr').count(), 2);
      await page.screenshot({ path: path.join(shots, 'incidents.png'), fullPage: true });
      await page.locator('[data-testid=incidents] a', { hasText: '10.77.0.66' }).click();
      await page.getByTestId('incident-timeline').waitFor();
      assert.equal(
        await page.getByTestId('incident-tactics').innerText(),
        'Initial Access → Discovery → Lateral Movement → Impair Process Control',
      );
      const steps = page.locator('[data-testid=incident-timeline] li');
      assert.equal(await steps.count(), 5);
      assert.match(
        await steps.nth(1).innerText(),
        /port_scan 10\.77\.0\.66 → 10\.77\.0\.21.*T0846 Remote System Discovery/s,
      );
      assert.match(await steps.nth(1).innerText(), /Evidence frames \d+/);
      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await page.waitForFunction(() =>
        document
          .querySelector('[data-testid=incident-status]')
          ?.textContent?.startsWith('acknowledged (ana'),
      );
      await page.getByLabel('note').fill('contractor laptop, unplugged');
      await page.getByRole('button', { name: 'Add note' }).click();
      await page
        .locator('[data-testid=incident-notes] li', { hasText: 'contractor laptop' })
        .waitFor();
      await page.screenshot({ path: path.join(shots, 'incident.png'), fullPage: true });
      const incidentUrl = page.url();

      // From a detection to its incident.
      await page.click('a[href="#/detections"]');
      await page.getByTestId('detections').waitFor();
      await page.getByLabel('status').selectOption('');
      const row = page.locator('[data-testid=detections] tbody tr', { hasText: 'port_scan' });
      await row.locator('a[href^="#/incidents/"]').click();
      await page.getByTestId('incident-timeline').waitFor();
      assert.equal(page.url(), incidentUrl);
      assert.deepEqual(
        listAudit(db)
          .filter((e) => e.action.startsWith('incident'))
          .map((e) => `${e.actor} ${e.action}`),
        ['ana incident.acknowledged', 'ana incident.note'],
      );
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  },
);
