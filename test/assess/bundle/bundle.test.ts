import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Db } from '../../../src/store/db.js';
import {
  makeBundle,
  keyIdOf,
  BundleRefused,
  type ItemKind,
} from '../../../src/assess/bundle/format.js';
import { importBundle } from '../../../src/assess/bundle/import.js';
import {
  addTrustedKey,
  knowledgeItems,
  lastBundleSequence,
} from '../../../src/store/bundle-store.js';
import { getAdvisory } from '../../../src/store/advisory-store.js';
import { listAudit } from '../../../src/store/audit-store.js';
import { repoRoot } from '../../helpers/paths.js';

const fixtures = path.join(repoRoot, 'fixtures/advisories');

function keys() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    id: keyIdOf(publicKey),
  };
}

const items = (): Array<{ kind: ItemKind; name: string; data: Buffer }> => [
  {
    kind: 'advisories',
    name: 'icsa-19-043-04.json',
    data: readFileSync(path.join(fixtures, 'icsa-19-043-04.json')),
  },
  { kind: 'oui', name: 'manuf', data: Buffer.from('00:1B:1B\tSiemens\tSiemens AG\n') },
  {
    kind: 'attack-ics',
    name: 'ics-attack.json',
    data: Buffer.from('{"type":"bundle","objects":[]}'),
  },
  {
    kind: 'vendor-ids',
    name: 'vendor-ids.json',
    data: Buffer.from('{"enip":{"1":"Rockwell Automation/Allen-Bradley"}}'),
  },
  { kind: 'rules', name: 'rules-2026-11.yaml', data: Buffer.from('rules: []\n') },
];

function withStore(fn: (db: Db) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-bundle-'));
    const db = openStore(path.join(dir, 'b.db'));
    try {
      await fn(db);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const publisher = keys();
const trust = (db: Db, k = publisher) =>
  addTrustedKey(db, { keyId: k.id, name: 'publisher', pem: k.pub, by: 'admin' });
const bundle = (sequence: number, k: { priv: string } | null = publisher) =>
  makeBundle({
    items: items(),
    sequence,
    publisher: 'weir-test',
    privateKeyPem: k ? k.priv : null,
  });

async function refused(
  db: Db,
  file: Buffer,
  reason: BundleRefused['reason'],
  words: RegExp,
): Promise<void> {
  await assert.rejects(importBundle(db, file, 'alice', 'b.weir'), (err: unknown) => {
    assert.ok(err instanceof BundleRefused, String(err));
    assert.equal(err.reason, reason);
    assert.match(err.message, words);
    return true;
  });
  const last = listAudit(db).at(-1)!;
  assert.equal(last.action, 'bundle.refused');
  assert.equal(last.details.reason, reason);
}

test(
  'a signed bundle from a trusted key imports its advisories and keeps the other items',
  withStore(async (db) => {
    trust(db);
    const r = await importBundle(db, bundle(100), 'alice', 'b.weir');
    assert.equal(r.advisories.added, 1);
    assert.ok(getAdvisory(db, 'ICSA-19-043-04'));
    assert.deepEqual(
      knowledgeItems(db)
        .map((k) => k.kind)
        .sort(),
      ['attack-ics', 'oui', 'rules', 'vendor-ids'],
    );
    assert.equal(lastBundleSequence(db), 100);
    const a = listAudit(db).at(-1)!;
    assert.equal(a.action, 'bundle.import');
    assert.equal(a.details.sequence, 100);
  }),
);

test(
  'refused: unsigned',
  withStore(async (db) => {
    trust(db);
    await refused(db, bundle(100, null), 'unsigned', /not signed/);
    assert.equal(getAdvisory(db, 'ICSA-19-043-04'), null, 'nothing imported');
  }),
);

test(
  'refused: tampered item, tampered header, bytes appended',
  withStore(async (db) => {
    trust(db);
    const good = bundle(100);
    const item = Buffer.from(good);
    item[item.length - 3] ^= 0x01; // inside the last item (rules: [])
    await refused(
      db,
      item,
      'tampered',
      /rules rules-2026-11\.yaml does not match its signed SHA-256/,
    );
    const header = Buffer.from(
      good.toString('latin1').replace('"sequence":100', '"sequence":900'),
      'latin1',
    );
    await refused(db, header, 'tampered', /signature does not match/);
    await refused(
      db,
      Buffer.concat([good, Buffer.from('extra')]),
      'tampered',
      /5 bytes past the signed items/,
    );
    assert.equal(getAdvisory(db, 'ICSA-19-043-04'), null);
    assert.equal(lastBundleSequence(db), null);
  }),
);

test(
  'refused: signed by a key the store does not trust',
  withStore(async (db) => {
    trust(db);
    const stranger = keys();
    await refused(
      db,
      bundle(100, stranger),
      'unknown-key',
      new RegExp(`key ${stranger.id}, which this store does not trust`),
    );
  }),
);

test(
  'refused: older or replayed bundles (rollback)',
  withStore(async (db) => {
    trust(db);
    await importBundle(db, bundle(200), 'alice', 'b.weir');
    await refused(
      db,
      bundle(199),
      'older',
      /bundle 199 is not newer than bundle 200 already imported/,
    );
    await refused(db, bundle(200), 'older', /bundle 200 is not newer than bundle 200/);
    assert.equal((await importBundle(db, bundle(201), 'alice', 'b.weir')).header.sequence, 201);
  }),
);

test(
  'not a bundle at all, or cut short: a clear refusal',
  withStore(async (db) => {
    trust(db);
    await refused(db, Buffer.from('{"document":{}}'), 'malformed', /not a Weir bundle/);
    const good = bundle(100);
    await refused(db, good.subarray(0, 40), 'malformed', /cut short/);
  }),
);
