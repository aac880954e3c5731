// A site's store held locked by another process (a maintenance tool with an exclusive lock) while the manager
// pushes a block decided elsewhere: the site cannot check the block against its baseline. It must neither
// throw the document away nor apply it unchecked: it reports the wait to the manager, retries with backoff,
// and applies the block once the store answers (real nats-server processes, nftables in a namespace).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { siteStoreGuard } from '../../src/fleet/apply-state.js';
import { canBuildLab } from '../lab/plant.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { blockedIn, FLEET_POLICY, lockStore } from './lab-sets.js';
import { freePort, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const namespaces: string[] = [];
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

test('a fleet block arriving while the site store is locked is reported, retried with backoff, and applied once the store answers', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const tag = randomBytes(3).toString('hex');
  const mdir = path.join(tempDir('fleet-lock'), 'manager');
  addSite(openHome(mdir), 'b');
  const { mgr, leafPort } = await startManager(mdir, stops);
  const ns = `weir-fk-b-${tag}`;
  execFileSync('ip', ['netns', 'add', ns]);
  namespaces.push(ns);
  const sdir = tempDir('fleet-lock-site');
  // The site's store: its baseline (10.77.0.21 is a PLC here), checked as weir node --db checks it.
  const storeFile = path.join(sdir, 'site.db');
  const seed = openStore(storeFile);
  saveBaseline(seed, plantBaseline());
  seed.close();
  const nft = new NftBackend({ family: 'inet', netns: ns }, path.join(sdir, 'state'), {
    persistent: true,
  });
  const said: string[] = [];
  const applied: string[] = [];
  const rt = await NodeRuntime.start({
    kit: readSiteKit('b', path.join(mdir, 'sites', 'b')),
    dir: sdir,
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: nft,
    refuseBlock: siteStoreGuard(storeFile, 100),
    busyBackoff: { minMs: 100, maxMs: 400 },
    log: (m) => said.push(m),
    onApplied: (d) => applied.push(`${d.kind} v${d.version}`),
  });
  stops.push(async () => {
    await rt.stop();
    nft.remove('test');
    nft.close();
  });
  await mgr.manager.publish('policy', () => ({ text: FLEET_POLICY(1), source: 'fleet.yaml' }));
  await until('policy v1 at the site', () => applied.includes('policy v1'));

  const release = await lockStore(storeFile, 'exclusive');
  let released = false;
  stops.push(async () => {
    if (!released) await release();
  });
  // Decided at site a: its attacker, and this site's PLC (which the guard must keep refusing afterwards).
  await mgr.manager.block(
    { address: '10.77.0.66', ttlSeconds: 600, comment: 'port_scan at a' },
    'a',
  );
  await mgr.manager.block({ address: '10.77.0.21', ttlSeconds: 600, comment: 'mistake at a' }, 'a');
  const deferred = (): Array<{ address: string; attempt: number }> =>
    (
      mgr.db
        .prepare("SELECT body FROM fleet_records WHERE site = 'b' AND kind = 'audit'")
        .all() as Array<{ body: string }>
    )
      .map((r) => JSON.parse(r.body) as { event: string; address: string; attempt: number })
      .filter((e) => e.event === 'fleet.block.deferred');
  await until('the manager sees the site report the wait', () => deferred().length > 0, 15_000);
  assert.equal(deferred()[0]!.address, '10.77.0.66');
  // Several retries with the store still locked.
  await until('three attempts', () => rt.guardBusy >= 3, 15_000).catch(() => undefined);
  assert.ok(rt.guardBusy >= 3, `retried (${rt.guardBusy} attempts)`);
  assert.ok(!blockedIn(ns).includes('10.77.0.66'), 'never applied unchecked');
  assert.ok(
    !rt.follower.history().some((h) => h.kind === 'blocklist' && h.verdict === 'refused'),
    'a locked store is no reason to refuse the document',
  );
  assert.ok(said.some((m) => /site store is locked/.test(m)));

  await release();
  released = true;
  await until('the block in the site nft set', () => blockedIn(ns).includes('10.77.0.66'), 15_000);
  await until('blocklist v2 applied', () => applied.includes('blocklist v2'));
  assert.ok(
    !blockedIn(ns).includes('10.77.0.21'),
    "this site's PLC stays unblocked: the guard ran",
  );
  assert.ok(
    rt.follower.history().some((h) => h.kind === 'blocklist' && h.verdict === 'applied'),
    'applied in the end',
  );
});
