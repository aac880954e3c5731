// A site added while the hub runs (sites a and b connected) is admitted by a configuration reload: c connects
// and publishes, a and b keep their links; a site removed is cut off at once and cannot come back or publish.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { addSite } from '../../src/fleet/home.js';
import { hubPid, reloadHub, removeSite } from '../../src/fleet/hub-reload.js';
import type { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { sleep, tempDir, until } from './fleet-kit.js';
import { liveHub } from './hub-kit.js';

const dir = tempDir('fleet-live');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('a site is added and removed while the hub runs: no restart, the others undisturbed', async () => {
  const lh = await liveHub(dir, ['a', 'b']);
  stops.push(() => lh.stop());
  const { home, mgr, mdir, stored } = lh;
  const leafs = lh.links;
  const node = (s: string): Promise<NodeRuntime> => lh.node(s);
  const a = await node('a');
  const b = await node('b');
  await until('a and b linked', async () => (await leafs()).length === 2);
  const linksBefore = await leafs();
  const hub = hubPid(mdir);
  assert.ok(hub !== null, 'the hub runs');

  // c is admitted while the hub runs.
  addSite(home, 'c');
  assert.equal(await reloadHub(home), 'reloaded');
  const c = await node('c');
  for (const [rt, n] of [
    [a, 1],
    [b, 1],
    [c, 1],
  ] as const)
    for (let i = 0; i < 5 * n; i++) rt.outbox.add('detection', { i });
  await until('five detections from each of a, b and c', () =>
    ['a', 'b', 'c'].every((s) => stored(s) === 5),
  );
  await mgr.manager.block({ address: '10.67.0.1', ttlSeconds: 600, comment: 'x' }, 'manager');
  await until('c follows the state', () => c.follower.applied('blocklist')?.version === 1);
  assert.equal(hubPid(mdir), hub, 'the same hub process: no restart');
  const linksWithC = await leafs();
  assert.equal(linksWithC.length, 3);
  for (const l of linksBefore)
    assert.ok(linksWithC.includes(l), `${l}: a's and b's links were not dropped`);

  // c is removed: its link is closed at once, and it may not come back.
  assert.equal((await removeSite(home, 'c')).links?.state, 'closed');
  await until('c cut off', async () => (await leafs()).length === 2, 20_000);
  const cNow = stored('c');
  for (let i = 0; i < 5; i++) c.outbox.add('detection', { after: i });
  for (let i = 0; i < 5; i++) a.outbox.add('detection', { after: i });
  await until("a's later detections stored", () => stored('a') === 10);
  // c's leaf retries every second; give it three.
  await sleep(3000);
  assert.equal((await leafs()).length, 2, 'c was not let back in');
  assert.equal(stored('c'), cNow, 'nothing more from c');
  assert.equal(c.outbox.pending, 5, "c's records wait in its outbox: undelivered");
  const linksAfter = await leafs();
  assert.deepEqual(
    linksAfter,
    linksBefore,
    "a's and b's links are the ones they had from the start",
  );
  // A site that was never admitted, or no longer is, cannot be removed twice.
  await assert.rejects(removeSite(home, 'c'), /no site named 'c'/);
});
