// Advisory bundles pushed by the manager: a site imports a genuine, newer bundle into its store (its
// assessment reads the advisories from there); a forged, untrusted, tampered or older bundle, and a manager
// document put back or signed by another key, are refused at the site and reported to the manager.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { keyIdOf, makeBundle } from '../../src/assess/bundle/format.js';
import { importBundle } from '../../src/assess/bundle/import.js';
import { addTrustedKey, lastBundleSequence } from '../../src/store/bundle-store.js';
import { getAdvisory } from '../../src/store/advisory-store.js';
import { openStore } from '../../src/store/db.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { signDoc } from '../../src/fleet/signed-doc.js';
import { STATE_BUCKET } from '../../src/fleet/subjects.js';
import { repoRoot } from '../helpers/paths.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-bundle');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const key = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    id: keyIdOf(publicKey),
  };
};
const advisory = readFileSync(path.join(repoRoot, 'fixtures/advisories/icsa-19-043-04.json'));
const bundle = (sequence: number, priv: string): Buffer =>
  makeBundle({
    sequence,
    publisher: 'vendor-feed',
    privateKeyPem: priv,
    items: [{ kind: 'advisories', name: 'icsa-19-043-04.json', data: advisory }],
  });

test('a pushed bundle is imported at the site; forged, tampered, untrusted, older and replayed ones are refused and reported', async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  addSite(home, 'a');
  const logs: string[] = [];
  const { mgr, leafPort } = await startManager(mdir, stops, (m) => logs.push(m));
  // Site a's store trusts the feed's publisher key.
  const publisher = key();
  const store = openStore(path.join(dir, 'site-a.db'));
  stops.push(async () => {
    store.close();
  });
  addTrustedKey(store, { keyId: publisher.id, name: 'feed', pem: publisher.pub, by: 'admin' });
  const a = await NodeRuntime.start({
    kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
    dir: tempDir('site-a'),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: new MemoryBackend(),
    importBundle: async (file, source) =>
      `bundle ${(await importBundle(store, file, 'fleet:a', source)).header.sequence} imported`,
    log: () => undefined,
  });
  stops.push(() => a.stop());
  const m = mgr.manager;
  const refusedAt = (v: number): string | undefined =>
    logs.find((l) => l.startsWith(`site a refused the advisory bundle of bundle v${v}:`));

  // v1: genuine and newer: imported; the site's assessment finds the advisory in its store.
  assert.equal(await m.pushBundle(bundle(10, publisher.priv)), 1);
  await until('bundle 10 imported at a', () => lastBundleSequence(store) === 10);
  assert.ok(getAdvisory(store, 'ICSA-19-043-04'));

  // v2: older than the one imported.
  assert.equal(await m.pushBundle(bundle(9, publisher.priv)), 2);
  await until('v2 refused', () => refusedAt(2) !== undefined);
  assert.match(refusedAt(2)!, /not newer|older/i);
  // v3: signed by a key this site does not trust.
  assert.equal(await m.pushBundle(bundle(11, key().priv)), 3);
  await until('v3 refused', () => refusedAt(3) !== undefined);
  assert.match(refusedAt(3)!, /not trust|unknown|trusted/i);
  // v4: a genuine bundle changed after it was signed (one byte of the advisory).
  const tampered = bundle(12, publisher.priv);
  tampered[tampered.length - 5] ^= 1;
  assert.equal(await m.pushBundle(tampered), 4);
  await until('v4 refused', () => refusedAt(4) !== undefined);
  assert.equal(lastBundleSequence(store), 10, 'none of them was imported');

  // The manager's document itself: an old version put back, and one signed by another key.
  const kv = await mgr.nc.jetstream().views.kv(STATE_BUCKET);
  const first = await kv.get('bundle', { revision: await firstRevision(kv) });
  await kv.put('bundle', first!.value);
  const forger = key();
  await kv.put(
    'bundle',
    signDoc(forger.priv, {
      kind: 'bundle',
      version: 99,
      publisher: 'weir-manager',
      body: JSON.parse(Buffer.from(first!.value).toString()).doc,
    }),
  );
  await until(
    'both refused at a',
    () =>
      a.follower.history().filter((h) => h.kind === 'bundle' && h.verdict === 'refused').length ===
      2,
  );
  const refusals = a.follower
    .history()
    .filter((h) => h.kind === 'bundle' && h.verdict === 'refused');
  assert.match(refusals[0]!.reason, /^replayed/);
  assert.match(refusals[1]!.reason, /^unknown-key/);
  await until('reported to the manager', () =>
    logs.some((l) => /site a refused a bundle document \(v99\)/.test(l)),
  );
  assert.equal(lastBundleSequence(store), 10);

  // A genuine newer bundle still goes through after all that.
  assert.equal(await m.pushBundle(bundle(13, publisher.priv)), 5);
  await until('bundle 13 imported', () => lastBundleSequence(store) === 13);
});

async function firstRevision(kv: import('nats').KV): Promise<number> {
  for await (const e of await kv.history({ key: 'bundle' })) return e.revision;
  throw new Error('no history');
}
