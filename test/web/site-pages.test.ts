// The site filter on flows, vulnerabilities and risk, and a site's asset and incident pages, in headless
// Chromium over a manager.db holding two sites that reuse one address plan (test/fleet/site-pages-kit.ts):
// each site chosen in turn shows only its own rows; a site's detail pages are reached from its lists and name
// the site in the address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { haveChromium, logIn, openDashboard, screenshotDir } from '../helpers/browser.js';
import { importFeed } from '../../src/assess/advisories/import.js';
import { addUsers, freshStore, PASSWORD } from '../server/fixture.js';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../fleet/fleet-kit.js';
import { fillTwinSites } from '../fleet/site-pages-kit.js';

test('flows, vulnerabilities, risk and the detail pages show only the chosen site', async (t) => {
  if (!haveChromium(t)) return;
  const fleetDir = tempDir('pages-web');
  fillTwinSites(fleetDir);
  const { dir, db } = freshStore('weir-site-pages-web-');
  await importFeed(db, path.join(repoRoot, 'fixtures/advisories'));
  await addUsers(db, [['vera', ['viewer']]]);
  const { url, page, errors, close } = await openDashboard(db, dir, { fleetDir });
  const pick = (site: string) => page.getByTestId('site-filter').selectOption(site);
  try {
    await logIn(page, url, 'vera', PASSWORD);

    await page.goto(`${url}#/flows`);
    await pick('north');
    await page.getByText('Flows at site north').waitFor();
    await page.getByText('3 flows', { exact: true }).waitFor();
    const nf = await page.getByTestId('site-flows').innerText();
    assert.match(nf, /north\s+10\.1\.0\.2\s+10\.1\.0\.50\s+modbus\s+tcp\/502\s+40/);
    assert.doesNotMatch(nf, /south|10\.2\./);
    await pick('south');
    await page.getByText('Flows at site south').waitFor();
    await page.getByText('10.2.0.11').first().waitFor();
    const sf = await page.getByTestId('site-flows').innerText();
    assert.doesNotMatch(sf, /north|10\.1\.0\.50/);
    assert.equal(sf.trim().split('\n').length, 3, 'header and two flows');

    await page.goto(`${url}#/vulnerabilities`);
    await page.getByText('Vulnerabilities at site south').waitFor();
    await page.getByTestId('site-vulns').waitFor();
    const sv = await page.getByTestId('site-vulns').innerText();
    assert.match(sv, /south\s+10\.1\.0\.50\s+Rockwell Automation 1756-ENBT/);
    assert.match(sv, /ICSA-18-310-02/);
    assert.doesNotMatch(sv, /ICSA-22-104-06|ICSA-19-043-04|north/);
    assert.match(
      await page.getByTestId('zones-unknown').innerText(),
      /does not know the zones of site south/,
    );
    await pick('north');
    await page.getByText('Vulnerabilities at site north').waitFor();
    await page.getByText('ICSA-22-104-06 (exact)').waitFor();
    const nv = await page.getByTestId('site-vulns').innerText();
    assert.match(nv, /north\s+10\.1\.0\.50\s+Siemens CPU 315-2 PN\/DP\s+V3\.2\.10/);
    assert.doesNotMatch(nv, /ICSA-18-310-02|south/);
    // The advisory's own page keeps the site: north's asset, linked to north's asset page.
    await page.getByTestId('site-advisories').getByRole('link', { name: 'ICSA-22-104-06' }).click();
    await page.getByTestId('advisory-plant').waitFor();
    const ap = await page.getByTestId('advisory-plant').innerText();
    assert.match(ap, /north\s+10\.1\.0\.50\s+exact/);
    assert.doesNotMatch(ap, /south/);
    assert.equal(
      await page.getByTestId('advisory-plant').getByRole('link').first().getAttribute('href'),
      '#/sites/north/assets/10.1.0.50',
    );

    await page.goto(`${url}#/risk`);
    await page.getByText('Risk at site north').waitFor();
    await page.getByTestId('exposure-paths').waitFor();
    const nr = await page.getByTestId('risk-assets').innerText();
    assert.match(nr, /north\s+\d+\s+10\.1\.0\.50 plc\s+control\s+plc in zone control/);
    assert.match(nr, /1 open detection \(1 high\)/);
    assert.doesNotMatch(nr, /south/);
    assert.match(await page.getByTestId('exposure-paths').innerText(), /^north: /);
    assert.match(await page.getByTestId('risk-zones').innerText(), /^north: control \d+/);
    assert.equal(await page.getByTestId('zones-unknown').count(), 0, 'north sent its policy');
    await pick('south');
    await page.getByText('Risk at site south').waitFor();
    await page.getByText(/zones of site south: risk is scored without zones/).waitFor();
    assert.equal(await page.getByTestId('risk-zones').count(), 0, 'no invented zones');
    await pick('*');
    await page.getByText('Risk at all sites').waitFor();
    await page.getByText(/does not know the zones of site south:/).waitFor();
    const ar = await page.getByTestId('risk-assets').innerText();
    assert.match(ar, /north\s+\d+\s+10\.1\.0\.50/);
    assert.match(ar, /south\s+\d+\s+10\.1\.0\.50/);
    await page.screenshot({ path: path.join(screenshotDir(), 'site-risk.png'), fullPage: true });

    // From a site's asset list to its asset page; the address carries the site.
    await pick('south');
    await page.goto(`${url}#/assets`);
    await page.getByText('Assets at site south').waitFor();
    await page.getByRole('link', { name: '10.1.0.50' }).click();
    await page.getByTestId('asset-title').waitFor();
    assert.match(page.url(), /#\/sites\/south\/assets\/10\.1\.0\.50$/);
    assert.match(await page.getByTestId('asset-title').innerText(), /south-twin.*site south/);
    await page.getByTestId('asset-vulns').waitFor();
    const savulns = await page.getByTestId('asset-vulns').innerText();
    assert.match(savulns, /ICSA-18-310-02/);
    assert.doesNotMatch(savulns, /ICSA-22-104-06/);
    assert.equal(await page.getByTestId('asset-detections').innerText(), '');
    await page.goto(`${url}#/sites/north/assets/10.1.0.50`);
    await page.getByText('north-twin').waitFor();
    await page.getByText('north writes').waitFor();
    assert.match(await page.getByTestId('asset-edges').innerText(), /10\.1\.0\.2\s+10\.1\.0\.50/);
    await page.goto(`${url}#/sites/west/assets/10.1.0.50`);
    await page.getByText('no site west at this manager').waitFor();

    // From a site's incident list to its incident page: read-only, the site named.
    await pick('north');
    await page.goto(`${url}#/incidents`);
    await page.getByText('Incidents at site north').waitFor();
    await page.getByRole('link', { name: 'Writes to PLCs at north' }).click();
    await page.getByTestId('incident-title').waitFor();
    assert.match(page.url(), /#\/sites\/north\/incidents\/north-inc-1$/);
    assert.equal(await page.getByTestId('incident-title').innerText(), 'Writes to PLCs at north');
    await page.getByText("Site north's incident, as the site last sent it").waitFor();
    assert.match(await page.getByTestId('incident-tactics').innerText(), /Impair Process Control/);
    assert.equal(await page.getByRole('button', { name: 'Acknowledge' }).count(), 0);
    await page.goto(`${url}#/sites/south/incidents/north-inc-1`);
    await page.getByText('no incident north-inc-1 at site south').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await close();
    rmSync(fleetDir, { recursive: true, force: true });
  }
});
