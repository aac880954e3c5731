import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { haveChromium, logIn, openDashboard, screenshotDir } from '../helpers/browser.js';
import { advisedPlantStore, PASSWORD } from '../server/fixture.js';

const POLICY = `weir: policy/1
site: plant
timezone: Europe/Berlin
zones:
  - { name: control, members: [10.77.0.16/28], mode: monitor }
windows:
  - { name: maintenance, days: [sat], from: "02:00", to: "04:00" }
`;

test(
  'vulnerabilities and risk pages in Chromium: per asset, per advisory, one advisory, on the asset page; risk, paths, patch plan',
  { timeout: 120_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const { dir, db } = await advisedPlantStore('weir-vulnweb-', POLICY);
    const shots = screenshotDir();
    const { url, page, errors, close } = await openDashboard(db, dir);
    try {
      await logIn(page, url, 'vera', PASSWORD);

      await page.goto(`${url}#/vulnerabilities`);
      await page.getByTestId('vulns-by-asset').waitFor();
      assert.match(
        await page.getByTestId('vuln-summary').innerText(),
        /1 vulnerable asset, 2 advisories apply \(of 3 imported\).*maintenance \(sat 02:00–04:00 Europe\/Berlin, next/,
      );
      const rows = await page.getByTestId('vulns-by-asset').innerText();
      assert.match(rows, /10\.77\.0\.22[^\n]*\tcontrol\tSiemens CPU 315-2 PN\/DP V3\.2\.6/);
      assert.match(rows, /ICSA-19-043-04[\s\S]*7\.5 high\s+family\s+yes\s+maintenance/);
      assert.match(rows, /order number 6ES7315-2EH14-0AB0 is listed/);
      await page.screenshot({ path: path.join(shots, 'vulnerabilities.png'), fullPage: true });

      await page.getByRole('button', { name: 'Group by advisory' }).click();
      const byAdv = await page.getByTestId('vulns-by-advisory').innerText();
      assert.match(byAdv, /ICSA-22-104-06[\s\S]*10\.77\.0\.22 \(control\) exact/);

      await page.getByRole('link', { name: 'ICSA-19-043-04' }).first().click();
      await page.getByTestId('advisory-title').waitFor();
      assert.match(
        await page.getByTestId('advisory-title').innerText(),
        /ICSA-19-043-04: Siemens SIMATIC S7-300 CPU/,
      );
      assert.match(await page.getByTestId('advisory-plant').innerText(), /10\.77\.0\.22\s+family/);
      assert.match(
        await page.locator('main').innerText(),
        /vendor fix: Update to V3\.X\.16 or any later version/,
      );
      await page.screenshot({ path: path.join(shots, 'advisory.png'), fullPage: true });

      await page.goto(`${url}#/assets/10.77.0.22`);
      await page.getByTestId('asset-vulns').waitFor();
      assert.match(
        await page.getByTestId('asset-vulns').innerText(),
        /ICSA-22-104-06[\s\S]*exact[\s\S]*next maintenance window: maintenance/,
      );
      await page.goto(`${url}#/assets/10.77.0.21`);
      await page.getByTestId('asset-vulns-none').waitFor();

      await page.goto(`${url}#/risk`);
      await page.getByTestId('risk-assets').waitFor();
      assert.match(
        await page.getByTestId('risk-assets').innerText(),
        /10\.77\.0\.21[\s\S]*write-capable paths/,
      );
      assert.match(await page.getByTestId('exposure-paths').innerText(), /PLC_STOP ×2/);
      assert.match(
        await page.getByTestId('patch-plan').innerText(),
        /10\.77\.0\.22 \(zone control\)[\s\S]*apply in maintenance/,
      );
      await page.screenshot({ path: path.join(shots, 'risk.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  },
);
