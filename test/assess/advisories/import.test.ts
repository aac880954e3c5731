import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../../src/store/db.js';
import { importFeed } from '../../../src/assess/advisories/import.js';
import { readCsaf, NotCsaf } from '../../../src/assess/advisories/csaf.js';
import { getAdvisory, loadAdvisories } from '../../../src/store/advisory-store.js';
import { AdvisoryIndex } from '../../../src/assess/advisories/match.js';
import { repoRoot } from '../../helpers/paths.js';

const fixtures = path.join(repoRoot, 'fixtures/advisories');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'weir-adv-'));

test('CSAF product tree: vendor, name, version range, order numbers, status, remediations, CVSS', () => {
  const a = readCsaf(JSON.parse(readFileSync(path.join(fixtures, 'icsa-22-104-06.json'), 'utf8')));
  assert.equal(a.id, 'ICSA-22-104-06');
  const p = a.products.find((x) => x.orderNumbers.includes('6ES7315-2EH14-0AB0'));
  assert.ok(p, 'the CPU 315-2 PN/DP is a product');
  assert.equal(p.vendorKey, 'siemens');
  assert.equal(p.versionText, 'vers:all/<V3.2.19');
  assert.deepEqual(p.range, { kind: 'bounds', any: [[{ op: '<', v: [3, 2, 19] }]] });
  const v = a.vulns.find((x) => x.knownAffected.includes(p.productId));
  assert.ok(v && v.cve?.startsWith('CVE-'));
  assert.ok((v.cvssByProduct[p.productId]?.score ?? v.cvss?.score ?? 0) > 0);
  assert.ok(
    v.remediations.some((r) => r.category === 'vendor_fix' && r.productIds.includes(p.productId)),
  );
  const enbt = readCsaf(
    JSON.parse(readFileSync(path.join(fixtures, 'icsa-18-310-02.json'), 'utf8')),
  );
  const m = enbt.products.find((x) => x.catalogs.some((c) => c.base === '1756-ENBT'));
  assert.equal(m?.range.kind, 'all');
  assert.throws(() => readCsaf({ document: { title: 'x' } }, 'x.json'), NotCsaf);
  assert.throws(() => readCsaf([1, 2], 'y.json'), /y\.json: not a CSAF document/);
});

test('import from a directory, a tar.gz and a zip; bad files are named and counted, not fatal', async () => {
  const dir = tmp();
  try {
    const feed = path.join(dir, 'feed');
    mkdirSync(path.join(feed, '2019'), { recursive: true });
    copyFileSync(
      path.join(fixtures, 'icsa-19-043-04.json'),
      path.join(feed, '2019/icsa-19-043-04.json'),
    );
    copyFileSync(
      path.join(fixtures, 'icsa-18-310-02.json'),
      path.join(feed, 'icsa-18-310-02.json'),
    );
    writeFileSync(path.join(feed, 'broken.json'), '{"document": ');
    writeFileSync(path.join(feed, 'index.json'), JSON.stringify({ feed: { entry: [] } }));
    const db = openStore(path.join(dir, 'a.db'));
    const s = await importFeed(db, feed);
    assert.equal(s.files, 4);
    assert.equal(s.added, 2);
    assert.deepEqual(s.rejected.map((r) => r.file).sort(), ['broken.json', 'index.json']);
    assert.match(s.rejected.find((r) => r.file === 'broken.json')!.problem, /not JSON/);
    assert.match(s.rejected.find((r) => r.file === 'index.json')!.problem, /not a CSAF document/);
    // Importing again changes nothing.
    const again = await importFeed(db, feed);
    assert.equal(again.unchanged, 2);
    assert.equal(again.added + again.updated, 0);
    db.close();

    execFileSync('tar', ['czf', path.join(dir, 'feed.tar.gz'), '-C', dir, 'feed']);
    execFileSync('python3', ['-m', 'zipfile', '-c', path.join(dir, 'feed.zip'), feed]);
    for (const archive of ['feed.tar.gz', 'feed.zip']) {
      const db2 = openStore(path.join(dir, `${archive}.db`));
      const s2 = await importFeed(db2, path.join(dir, archive));
      assert.equal(s2.added, 2, archive);
      assert.equal(s2.rejected.length, 2, archive);
      assert.ok(getAdvisory(db2, 'ICSA-18-310-02'), archive);
      db2.close();
    }
    // A truncated archive is a clear error, not a crash or a silent half import.
    const whole = readFileSync(path.join(dir, 'feed.tar.gz'));
    writeFileSync(path.join(dir, 'cut.tar.gz'), whole.subarray(0, Math.floor(whole.length / 2)));
    const db3 = openStore(path.join(dir, 'cut.db'));
    await assert.rejects(
      importFeed(db3, path.join(dir, 'cut.tar.gz')),
      /unexpected end|truncated/i,
    );
    db3.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an older revision of an advisory never replaces a newer one', async () => {
  const dir = tmp();
  try {
    const doc = JSON.parse(readFileSync(path.join(fixtures, 'icsa-19-043-04.json'), 'utf8'));
    const newer = structuredClone(doc);
    newer.document.tracking.current_release_date = '2021-01-01T00:00:00.000Z';
    newer.document.tracking.version = '2';
    newer.document.title = 'Siemens SIMATIC S7-300 CPU (Update A)';
    writeFileSync(path.join(dir, 'new.json'), JSON.stringify(newer));
    writeFileSync(path.join(dir, 'old.json'), JSON.stringify(doc));
    const db = openStore(path.join(dir, 'a.db'));
    assert.equal((await importFeed(db, path.join(dir, 'new.json'))).added, 1);
    assert.equal((await importFeed(db, path.join(dir, 'old.json'))).older, 1);
    assert.equal(getAdvisory(db, 'ICSA-19-043-04')?.title, 'Siemens SIMATIC S7-300 CPU (Update A)');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('matching on the excerpt: family range with X, catalog numbers, series and precision guards', async () => {
  const dir = tmp();
  try {
    const db = openStore(path.join(dir, 'a.db'));
    await importFeed(db, fixtures);
    const idx = new AdvisoryIndex(loadAdvisories(db));
    const s7 = idx.match({ vendor: 'Siemens', model: '6ES7 315-2EH14-0AB0', firmware: 'V3.2.7' });
    assert.deepEqual(
      s7.map((m) => [m.advisoryId, m.confidence]),
      [
        ['ICSA-19-043-04', 'family'],
        ['ICSA-22-104-06', 'exact'],
      ].sort((a, b) => (a[1] === 'exact' ? -1 : b[1] === 'exact' ? 1 : 0)),
    );
    const fam = s7.find((m) => m.advisoryId === 'ICSA-19-043-04')!;
    assert.match(fam.reason, /S7-300 CPU family/);
    assert.match(fam.reason, /V3\.2\.7.*< V3\.X\.16/);
    assert.deepEqual(fam.cves, ['CVE-2018-16561']);
    assert.equal(fam.cvss?.score, 7.5);
    assert.equal(fam.fixAvailable, true);
    // Past the fixed version: nothing.
    assert.deepEqual(
      idx.match({ vendor: 'Siemens', model: '6ES7 315-2EH14-0AB0', firmware: 'V3.2.19' }),
      [],
    );
    // Another CPU's order number is not this CPU.
    const other = idx.match({
      vendor: 'Siemens',
      model: '6ES7 412-2EK07-0AB0',
      firmware: 'V7.0.1',
    });
    assert.deepEqual(other, []);
    // No firmware: only "possible", never exact or family.
    const nofw = idx.match({ vendor: 'Siemens', model: '6ES7 315-2EH14-0AB0' });
    assert.ok(nofw.length > 0 && nofw.every((m) => m.confidence === 'possible'));
    assert.match(nofw[0]!.reason, /firmware is unknown/);
    // 1756-ENBT: every version; 1756-EN2T Series D only up to 10.10; another series or vendor: no.
    const enbt = idx.match({
      vendor: 'Rockwell Automation/Allen-Bradley',
      product: '1756-ENBT/A',
      firmware: '4.3',
    });
    assert.deepEqual(
      enbt.map((m) => [m.advisoryId, m.confidence]),
      [['ICSA-18-310-02', 'exact']],
    );
    assert.match(enbt[0]!.reason, /1756-ENBT/);
    assert.equal(
      idx.match({ vendor: 'Rockwell Automation', product: '1756-EN2T/D', firmware: '10.10' })
        .length,
      1,
    );
    assert.equal(
      idx.match({ vendor: 'Rockwell Automation', product: '1756-EN2T/D', firmware: '10.11' })
        .length,
      0,
    );
    assert.equal(
      idx.match({ vendor: 'Rockwell Automation', product: '1756-EN2T/C', firmware: '5.1' }).length,
      1,
    );
    assert.equal(
      idx.match({ vendor: 'Rockwell Automation', product: '1756-EN2T/E', firmware: '5.1' }).length,
      0,
    );
    assert.equal(idx.match({ vendor: 'Acme', product: '1756-ENBT/A', firmware: '4.3' }).length, 0);
    assert.equal(idx.match({ vendor: 'Siemens' }).length, 0, 'a vendor alone never matches');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CISA's wording on exploits: public exploits, none known, or nothing said", async () => {
  const { exploitsOf } = await import('../../../src/assess/advisories/csaf.js');
  assert.equal(
    exploitsOf('No known public exploits specifically target these vulnerabilities.'),
    'none known',
  );
  assert.equal(
    exploitsOf('ATTENTION: Public exploits are available. Low attack complexity'),
    'public',
  );
  assert.equal(
    exploitsOf('Exploits that target these vulnerabilities are publicly available.'),
    'public',
  );
  assert.equal(exploitsOf('Siemens recommends updating.'), null);
});
