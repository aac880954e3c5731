// Attack: a removed site's key is kept (a stolen laptop, a former contractor). The site is removed and later
// added again under the same name. nats-server 2.9 checks no revocation list on leaf links, so if the new
// enrolment's certificate maps to the same user as the old one, the old kit gets straight back in. Each
// enrolment is a generation of its own in the certificate's subject and the hub maps only the current one:
// the old kit's leaf is refused, the new kit's admitted, and the other sites' links are left alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cpSync, rmSync } from 'node:fs';
import { addSite } from '../../src/fleet/home.js';
import { reloadHub, removeSite } from '../../src/fleet/hub-reload.js';
import type { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { sleep, tempDir, until } from './fleet-kit.js';
import { liveHub } from './hub-kit.js';

const dir = tempDir('fleet-reenrol');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test("a removed site's old certificate is refused when its name is enrolled again", async () => {
  const hub = await liveHub(dir, ['a', 'b', 'c']);
  stops.push(() => hub.stop());
  const { home, mdir, stored } = hub;
  const links = hub.links;
  const node = (s: string, kitDir: string): Promise<NodeRuntime> => hub.node(s, { kitDir });
  const a = await node('a', path.join(mdir, 'sites', 'a'));
  await node('b', path.join(mdir, 'sites', 'b'));
  const c1 = await node('c', path.join(mdir, 'sites', 'c'));
  await until('a, b and c linked', async () => (await links()).length === 3);
  c1.outbox.add('detection', { first: true });
  await until("c's first enrolment delivers", () => stored('c') === 1);

  // The attacker's copy of c's first kit, taken before the removal.
  const oldKit = path.join(dir, 'stolen-c');
  cpSync(path.join(mdir, 'sites', 'c'), oldKit, { recursive: true });
  await c1.stop();
  assert.equal((await removeSite(home, 'c')).live, 'reloaded');
  await until('c gone', async () => (await links()).length === 2, 20_000);
  const abLinks = await links();

  // c is enrolled again under the same name: a new kit.
  addSite(home, 'c');
  assert.equal(await reloadHub(home), 'reloaded');

  // The old kit dials the hub: it must not be let in, nor deliver anything as c.
  const thief = await node('c', oldKit);
  thief.outbox.add('detection', { from: 'the old key' });
  // Its leaf retries every second; give it three.
  await sleep(3000);
  assert.deepEqual(await links(), abLinks, "the old kit's leaf was refused");
  assert.equal(stored('c'), 1, 'nothing from the old kit');
  // (with the node's own health record beside it)
  assert.ok(thief.outbox.pending >= 1, "the old kit's record is still undelivered");
  await thief.stop();

  // The new kit is admitted and delivers.
  const c2 = await node('c', path.join(mdir, 'sites', 'c'));
  await until('the new kit linked', async () => (await links()).length === 3);
  c2.outbox.add('detection', { second: true });
  await until("c's new enrolment delivers", () => stored('c') === 2);

  // a and b were never disturbed: the same links, and they still deliver.
  const now = await links();
  for (const l of abLinks) assert.ok(now.includes(l), `${l}: a's and b's links kept`);
  a.outbox.add('detection', { after: true });
  await until("a's detection stored", () => stored('a') === 1);
});
