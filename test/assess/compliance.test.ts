import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { activate } from '../helpers/approved-store.js';
import { haveChromium, launchChromium } from '../helpers/browser.js';
import { repoRoot } from '../helpers/paths.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { person, weirOk } from '../helpers/weir-cli.js';

const POLICY = `weir: policy/1
site: lab
timezone: Europe/Berlin
zones:
  - { name: supervisory, members: [10.77.0.0/28], security_level: 2, mode: monitor }
  - { name: control, members: [10.77.0.16/28], security_level: 3, mode: enforce }
  - { name: it, members: [10.77.0.64/26], security_level: 1, mode: observe }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
  - { name: it-ctl, from: it, to: control }
windows:
  - { name: maintenance, days: [sat], from: "02:00", to: "04:00" }
`;

test(
  'IEC 62443-3-3 evidence report: statuses from the store, HTML opened in Chromium, PDF printed, tied to the audit log',
  { timeout: 180_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-compliance-'));
    try {
      const db = detectedPlantStore(dir);
      const admin = await person(db, dir, 'root', ['admin']);
      await weirOk([
        'advisories',
        'import',
        path.join(repoRoot, 'fixtures/advisories'),
        '--db',
        db,
        '--token-file',
        admin,
      ]);
      activate(db, POLICY);

      const html = path.join(dir, 'report.html');
      const pdf = path.join(dir, 'report.pdf');
      const out = (
        await weirOk(['assess', 'compliance', '--db', db, '--html', html, '--pdf', pdf], {
          env: { COLUMNS: '220' },
        })
      ).stdout;
      const s = openStore(db);
      const last = listAudit(s).at(-1)!;
      s.close();
      assert.match(
        out,
        new RegExp(
          `lab, 20\\d\\d-\\d\\d-\\d\\dT.*audit log entry ${last.seq} sha256 ${last.hash} \\(intact\\)`,
        ),
      );
      assert.ok(readFileSync(pdf).subarray(0, 5).equals(Buffer.from('%PDF-')), 'a PDF was printed');

      const json = JSON.parse(
        (await weirOk(['assess', 'compliance', '--db', db, '--json'])).stdout,
      );
      const status = Object.fromEntries(
        json.requirements.map((r: { id: string; status: string }) => [r.id, r.status]),
      );
      assert.equal(
        status['SR 5.1'],
        'partly',
        'some observed assets (the historian 10.77.0.40) are in no zone',
      );
      assert.equal(
        status['SR 5.2'],
        'partly',
        'one zone enforces, one is monitored, IT is only observed',
      );
      assert.equal(
        status['SR 1.13'],
        'not met',
        'the intruder in the IT zone writes to the Modbus PLC',
      );
      assert.equal(status['SR 2.8'], 'met');
      assert.equal(status['SR 3.9'], 'met');
      assert.equal(status['SR 6.2'], 'met');
      assert.equal(status['SR 7.8'], 'met');
      assert.equal(status['SR 3.4 / 2-3'], 'partly');
      const sr113 = json.requirements.find((r: { id: string }) => r.id === 'SR 1.13');
      assert.match(
        sr113.evidence.join('\n'),
        /10\.77\.0\.66 \(scanner, zone it\).*PLC|10\.77\.0\.66 \(scanner, zone it\)/,
      );
      assert.match(sr113.nerc, /CIP-005-7 R2/);

      // The HTML report, opened in Chromium: dated, tied to the audit log's end, one row per requirement.
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(pathToFileURL(html).href);
        assert.match(
          await page.locator('#dated').innerText(),
          new RegExp(
            `Site lab\\. Generated 20.*Tied to audit log entry ${last.seq}, sha256 ${last.hash}`,
          ),
        );
        assert.equal(
          await page.locator('#requirements tbody tr').count(),
          json.requirements.length,
        );
        assert.equal(await page.locator('td.status[data-status="not met"]').count(), 1);
        await page.screenshot({
          path: path.join(repoRoot, 'test-output', 'compliance.png'),
          fullPage: true,
        });
      } finally {
        await browser.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
