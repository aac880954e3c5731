import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';

const fixtures = (f: string) => path.join(repoRoot, 'fixtures', f);

test('weir advisories import (audited, role-checked), weir assess vulns, weir bundle trust/make/verify/import', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-adv-cli-'));
  try {
    const db = path.join(dir, 'w.db');
    await weirOk(['discover', fixtures('plant.pcap'), fixtures('identity.pcap'), '--db', db]);
    const admin = await person(db, dir, 'admin', ['admin'], {});
    const analyst = await person(db, dir, 'ana', ['analyst'], { admin });
    const viewer = await person(db, dir, 'vic', ['viewer'], { admin });
    /** `weir advisories import` of the fixture advisories; `as` the token file of who imports. */
    const importFixtures = (...as: string[]) =>
      weir(['advisories', 'import', fixtures('advisories'), '--db', db, ...as]);

    // Nobody proven, or a viewer: refused.
    const anon = await importFixtures();
    assert.equal(anon.code, 1);
    assert.match(anon.stderr, /needs a logged-in person/);
    const v = await importFixtures('--token-file', viewer);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /vic \(viewer\) may not import advisories/);
    // Assessing before any import says how to import.
    const none = await weir(['assess', 'vulns', '--db', db]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no advisories in .*weir advisories import PATH/);

    const ok = await importFixtures('--token-file', analyst);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /3 files: 3 advisories added, 0 updated, 0 unchanged, 0 older .*, 0 rejected; 3 in the store/,
    );

    const json = JSON.parse((await weirOk(['assess', 'vulns', '--db', db, '--json'])).stdout);
    const plc = json.assets.find((a: { assetId: string }) => a.assetId === '10.77.0.22');
    assert.ok(plc, 'the S7 CPU 315-2 PN/DP V3.2.6 of the plant is vulnerable');
    assert.deepEqual(plc.addresses[0], '10.77.0.22');
    const ids = plc.findings
      .map((f: { advisoryId: string; confidence: string }) => `${f.advisoryId}:${f.confidence}`)
      .sort();
    assert.deepEqual(ids, ['ICSA-19-043-04:family', 'ICSA-22-104-06:exact']);
    const f = plc.findings.find((x: { advisoryId: string }) => x.advisoryId === 'ICSA-19-043-04');
    assert.deepEqual(f.cves, ['CVE-2018-16561']);
    assert.equal(f.cvss.score, 7.5);
    assert.equal(f.fixAvailable, true);
    assert.match(f.reason, /S7-300 CPU family.*V3\.2\.6.*< V3\.X\.16/);
    assert.match(f.windowNote, /the policy names no maintenance window/);
    assert.ok(
      json.byAdvisory.some((a: { advisoryId: string }) => a.advisoryId === 'ICSA-22-104-06'),
    );
    const text = (await weirOk(['assess', 'vulns', '--db', db], { env: { COLUMNS: '200' } }))
      .stdout;
    assert.match(text, /ASSET\s+IDENTITY\s+ADVISORY\s+CVSS\s+CONFIDENCE\s+FIX\s+WHY/);
    assert.match(text, /10\.77\.0\.22 .*ICSA-19-043-04\s+7\.5\s+family\s+yes/);

    // Bundles: key pair, trust (security/admin only, audited), make, verify, import, refusals.
    const keyPrefix = path.join(dir, 'pub');
    const kg = await weirOk(['bundle', 'keygen', '--out', keyPrefix]);
    const keyId = /key ([0-9a-f]{16})/.exec(kg.stdout)![1]!;
    const makeBundle = (out: string, sequence: number, ...items: string[]) =>
      weirOk([
        'bundle',
        'make',
        '--key',
        `${keyPrefix}.key`,
        '--out',
        out,
        '--sequence',
        `${sequence}`,
        ...items,
      ]);
    const notAllowed = await weir([
      'bundle',
      'trust',
      `${keyPrefix}.pub`,
      '--db',
      db,
      '--token-file',
      analyst,
    ]);
    assert.match(notAllowed.stderr, /may not trust bundle keys/);
    await weirOk(['bundle', 'trust', `${keyPrefix}.pub`, '--db', db, '--token-file', admin]);
    const b = path.join(dir, 'b1.weir');
    await makeBundle(b, 5, '--advisories', fixtures('advisories/icsa-18-310-02.json'));
    const ver = await weirOk(['bundle', 'verify', b, '--db', db]);
    assert.match(ver.stdout, new RegExp(`good: bundle 5 from weir, signed by key ${keyId}`));
    const imp = await weirOk(['advisories', 'import', b, '--db', db, '--token-file', analyst]);
    assert.match(
      imp.stdout,
      /bundle 5 from weir .* imported; advisories: 0 added, 0 updated, 1 unchanged/,
    );
    const again = await weir(['bundle', 'import', b, '--db', db, '--token-file', analyst]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /bundle 5 is not newer than bundle 5 already imported; refusing the rollback/,
    );
    const bytes = readFileSync(b);
    bytes[bytes.length - 5] ^= 1;
    writeFileSync(path.join(dir, 'b2.weir'), bytes);
    const bad = await weir([
      'bundle',
      'verify',
      path.join(dir, 'b2.weir'),
      '--key',
      `${keyPrefix}.pub`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /does not match its signed SHA-256/);

    // The OUI table of a bundle names NIC makers for discovery into that store.
    const pcap = sharedCapture('iti/profinet__Profinet_Failed.pcap');
    if (pcap) {
      const oui = path.join(dir, 'manuf');
      writeFileSync(oui, '# from a bundle\n00:1B:1B\tAcmeNew\tAcme Bundled Automation GmbH\n');
      const b3 = path.join(dir, 'b3.weir');
      await makeBundle(b3, 6, '--oui', oui);
      assert.match(
        (await weirOk(['bundle', 'import', b3, '--db', db, '--token-file', analyst])).stdout,
        /kept: oui manuf/,
      );
      await weirOk(['discover', pcap, '--db', db]);
      const inv = JSON.parse((await weirOk(['discover', pcap, '--json'])).stdout);
      assert.notEqual(
        inv.assets.find((a: { mac: string }) => a.mac === '00:1b:1b:34:34:ce')?.macVendor,
        'Acme Bundled Automation',
        'without the store, the built-in table',
      );
      const st = openStore(db);
      const row = st
        .prepare("SELECT mac_vendor FROM assets WHERE mac = '00:1b:1b:34:34:ce'")
        .get() as { mac_vendor: string };
      st.close();
      assert.equal(row.mac_vendor, 'Acme Bundled Automation');
    }

    const s = openStore(db);
    const actions = listAudit(s).map((e) => `${e.actor}:${e.action}`);
    s.close();
    assert.ok(actions.includes('ana:advisories.import'));
    assert.ok(actions.includes('admin:bundle.trust'));
    assert.ok(actions.includes('ana:bundle.import'));
    assert.ok(actions.includes('ana:bundle.refused'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
