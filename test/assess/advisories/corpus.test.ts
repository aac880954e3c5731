/**
 * Matching on the real CISA CSAF corpus (../shared/advisories: 2,379 ICS advisories, 2017–2024) with the
 * identities Weir itself discovers in the shared captures and the fixtures.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Db } from '../../../src/store/db.js';
import { importFeed, type ImportSummary } from '../../../src/assess/advisories/import.js';
import { loadAdvisories } from '../../../src/store/advisory-store.js';
import { AdvisoryIndex } from '../../../src/assess/advisories/match.js';
import { assetOf, discoverFiles } from '../../helpers/discover.js';
import { repoRoot, sharedAdvisories, sharedCapture } from '../../helpers/paths.js';
import { LABELLED, scoreLabelled } from '../../helpers/advisory-labels.js';

const corpus = sharedAdvisories();
let dir = '';
let db: Db;
let summary: ImportSummary;
let idx: AdvisoryIndex;

before(async () => {
  if (!corpus) return;
  dir = mkdtempSync(path.join(tmpdir(), 'weir-corpus-'));
  db = openStore(path.join(dir, 'c.db'));
  summary = await importFeed(db, corpus);
  idx = new AdvisoryIndex(loadAdvisories(db));
});
after(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const capture = (rel: string) =>
  rel.startsWith('fixtures/') ? path.join(repoRoot, rel) : sharedCapture(rel);

test(
  'the whole corpus imports: 2,379 advisories, the feed index named as not CSAF',
  { skip: !corpus },
  () => {
    assert.equal(summary.added, 2379);
    assert.deepEqual(
      summary.rejected.map((r) => path.basename(r.file)),
      ['cisa-csaf-ot-feed-tlp-white.json'],
    );
    assert.equal(idx.advisories, 2379);
  },
);

test(
  'S7-300 CPU 315-2 PN/DP V3.2.7 from the shared S7 capture: its S7-300 advisories, no others',
  { skip: !corpus },
  async (t) => {
    const pcap = sharedCapture('icsnpp/s7comm_snap7.pcap');
    if (!pcap) return t.skip('shared capture missing');
    const asset = assetOf(await discoverFiles(pcap), '134.217.61.211');
    assert.equal(asset.identity.firmware, 'V3.2.7');
    const ms = idx.match(asset.identity);
    const label = LABELLED.find((l) => l.assetId === '134.217.61.211')!;
    assert.deepEqual(ms.map((m) => m.advisoryId).sort(), [...label.affected].sort());
    for (const m of ms) {
      assert.notEqual(m.confidence, 'possible');
      // Only this CPU or the whole S7-300 CPU family: never another CPU of the same advisory.
      assert.match(
        m.product,
        /CPU 315-2 PN\/DP \(6ES7315-2EH14-0AB0\)|S7-300 CPU family/,
        m.advisoryId,
      );
      assert.ok(m.cves.length > 0 && m.cvss && m.cvss.score > 0, m.advisoryId);
      assert.ok(m.reason.length > 0);
    }
    const byId = new Map(ms.map((m) => [m.advisoryId, m]));
    assert.equal(byId.get('ICSA-19-043-04')?.confidence, 'family');
    assert.match(byId.get('ICSA-19-043-04')!.reason, /V3\.2\.7.*< V3\.X\.16/);
    assert.equal(byId.get('ICSA-22-104-06')?.confidence, 'exact');
    assert.match(byId.get('ICSA-22-104-06')!.reason, /order number 6ES7315-2EH14-0AB0/);
    // Advisories for other S7-300 CPUs only (e.g. 314C-2, 317-2 in the same trees) or for the S7-400 are absent.
    assert.ok(!ms.some((m) => /S7-400|S7-1500|S7-1200/.test(m.product)));

    // The same CPU on fixed firmware: the advisories fixed by then drop out, all-versions ones stay.
    for (const fw of ['V3.2.17', 'V3.2.19']) {
      const l = LABELLED.find((x) => x.derived && x.identity.firmware === fw)!;
      const got = idx
        .match({ ...asset.identity, firmware: fw })
        .map((m) => m.advisoryId)
        .sort();
      assert.deepEqual(got, [...l.affected].sort(), fw);
      for (const fixed of Object.keys(l.notAffected))
        assert.ok(!got.includes(fixed), `${fixed} at ${fw}`);
    }
  },
);

test(
  '1756-ENBT/A from CIP ListIdentity matches the ControlLogix communication-module advisory',
  { skip: !corpus },
  async (t) => {
    const pcap = sharedCapture('icsnpp/enip_cip_example.pcap');
    if (!pcap) return t.skip('shared capture missing');
    const asset = assetOf(await discoverFiles(pcap), '10.1.1.164');
    assert.equal(asset.identity.product, '1756-ENBT/A');
    const ms = idx.match(asset.identity);
    assert.deepEqual(
      ms.map((m) => [m.advisoryId, m.confidence]),
      [['ICSA-18-310-02', 'exact']],
    );
    assert.match(ms[0]!.reason, /1756-ENBT/);
    assert.match(ms[0]!.product, /ControlLogix EtherNet\/IP Communications Modules 1756-ENBT/);
    assert.deepEqual(ms[0]!.cves, ['CVE-2018-17924']);
  },
);

test(
  'labelled set from real identities: every finding right, none missed',
  { skip: !corpus },
  async (t) => {
    // The labelled identities are what discovery really yields from those captures.
    for (const l of LABELLED) {
      if (!l.capture || !l.assetId) continue;
      const file = capture(l.capture);
      if (!file) return t.skip(`shared capture ${l.capture} missing`);
      const got = assetOf(await discoverFiles(file), l.assetId).identity as Record<string, unknown>;
      for (const [k, v] of Object.entries(l.identity)) assert.equal(got[k], v, `${l.name}: ${k}`);
    }
    const s = scoreLabelled((i) => idx.match(i));
    for (const item of s.items) {
      assert.deepEqual(item.falsePositives, [], `${item.name}: wrong findings`);
      assert.deepEqual(item.missed, [], `${item.name}: missed`);
    }
    assert.equal(s.precision, 1);
    assert.equal(s.recall, 1);
  },
);
