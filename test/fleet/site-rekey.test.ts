// Attack: the key of a site that is still enrolled is stolen (a copied kit, a stolen laptop at the site). The
// thief links to the hub as that site with the old certificate while the real site runs. Re-keying the site
// (a new generation, the hub mapping only it) must cut the thief's open link and refuse it from then on, and
// must not cost the site anything the manager keeps by name: its earlier records, its health row, its state
// consumer. The real site is back with its new kit, delivering what it held meanwhile; the other site is never
// disturbed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { generationOf, openHome, readSiteKit } from '../../src/fleet/home.js';
import { rekeySite } from '../../src/fleet/hub-reload.js';
import type { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { siteCn } from '../../src/fleet/pki.js';
import { connect } from 'nats';
import { leafConfig } from '../../src/fleet/nats-config.js';
import { NatsServer } from '../../src/fleet/nats-server.js';
import { STATE_STREAM, stateConsumer } from '../../src/fleet/subjects.js';
import { freePort, sleep, tempDir, until } from './fleet-kit.js';
import { liveHub } from './hub-kit.js';

const dir = tempDir('fleet-rekey');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test("a stolen key of an enrolled site: re-keyed, the thief's open link is cut and refused, the site keeps its state", async () => {
  const hub = await liveHub(dir, ['a', 'c']);
  stops.push(() => hub.stop());
  const { home, mgr, mdir, leafPort, stored } = hub;
  const leafs = hub.links;
  const node = (s: string, kitDir: string, siteDir: string): Promise<NodeRuntime> =>
    hub.node(s, { kitDir, dir: siteDir, more: { healthEveryMs: 500 } });
  const cDir = tempDir('site-c');
  const a = await node('a', path.join(mdir, 'sites', 'a'), tempDir('site-a'));
  await until('a linked', async () => (await leafs()).length === 1);
  const aLinks = await leafs();
  let c = await node('c', path.join(mdir, 'sites', 'c'), cDir);
  await until('c linked', async () => (await leafs()).length === 2);
  c.outbox.add('detection', { before: 1 });
  c.outbox.add('detection', { before: 2 });
  await until("c's detections stored", () => stored('c') === 2);
  await mgr.manager.block({ address: '10.68.0.1', ttlSeconds: 600, comment: 'x' }, 'manager');
  await until('c applies blocklist v1', () => c.follower.applied('blocklist')?.version === 1);
  await until("c's health at the manager", () =>
    mgr.manager.sites().some((s) => s.site === 'c' && s.health !== null),
  );
  const jsm = await mgr.nc.jetstreamManager();
  const consumerBefore = await jsm.consumers.info(STATE_STREAM, stateConsumer('c'));

  // The thief's copy of c's kit, linked alongside the real c from a leaf server of its own (its own server
  // name: the hub refuses a second leaf of the same name).
  const stolen = path.join(dir, 'stolen-c');
  cpSync(path.join(mdir, 'sites', 'c'), stolen, { recursive: true });
  const thiefDir = tempDir('thief');
  const thiefPort = await freePort();
  const thief = await NatsServer.start(
    path.join(thiefDir, 'leaf.conf'),
    leafConfig({
      site: 'thief',
      client: { host: '127.0.0.1', port: thiefPort },
      hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
      tls: readSiteKit('c', stolen).tls,
    }),
  );
  stops.push(() => thief.stop());
  const tc = await connect({ servers: `127.0.0.1:${thiefPort}` });
  stops.push(() => tc.close());
  await until('the thief linked', async () => (await leafs()).length === 3);
  // What the thief publishes as c, heard at the hub (a kind c may send: made-up subjects are refused anyway).
  const THIEF = 'thief:';
  const heard: string[] = [];
  mgr.nc.subscribe('weir.site.c.health', {
    callback: (_e, m) => {
      const t = new TextDecoder().decode(m.data);
      if (t.startsWith(THIEF)) heard.push(t.slice(THIEF.length));
    },
  });
  const thiefSays = async (): Promise<string | null> => heard.at(-1) ?? null;
  // Core NATS publishes are fire-and-forget: one sent before the hub's interest has reached the thief's leaf
  // is dropped (CI lost one). So the subscription is flushed to the hub and the thief publishes on every poll.
  await mgr.nc.flush();
  const thiefPublishes = (what: string): void =>
    tc.publish('weir.site.c.health', new TextEncoder().encode(`${THIEF}${what}`));
  await until("the thief's link publishes as c", async () => {
    thiefPublishes('before');
    return (await thiefSays()) === 'before';
  });

  const r = await rekeySite(home, 'c');
  assert.equal(r.live, 'reloaded');
  assert.deepEqual(r.links, { state: 'closed', links: 2, all: false });
  assert.equal(r.previous, 1);
  assert.equal(r.generation, 2);
  assert.equal(generationOf(openHome(mdir), 'c'), 2, 'the new generation is recorded');
  const cert = new X509Certificate(readFileSync(path.join(mdir, 'sites', 'c', 'site.pem')));
  assert.match(cert.subject, new RegExp(`CN=${siteCn('c', 2).replace('.', '\\.')}`));
  assert.ok(!existsSync(path.join(home.pki, `${siteCn('c', 1)}.key`)), 'the old key is forgotten');

  // Both links made with the old certificate are cut (the real c's too), and it is refused from now on.
  await until('the old links cut', async () => (await leafs()).length === 1, 20_000);
  const cNow = stored('c');
  c.outbox.add('detection', { held: true });
  // Both leaves retry every second; the thief keeps publishing all the while.
  for (let i = 0; i < 30; i++) {
    thiefPublishes('after');
    await sleep(100);
  }
  assert.deepEqual(await leafs(), aLinks, "the old kit is refused; a's link is the one it had");
  assert.equal(await thiefSays(), 'before', 'nothing from the old key reaches the hub');
  assert.equal(stored('c'), cNow, "c's old kit is refused too");

  // Meanwhile the manager moves on, and the real site holds a detection in its outbox.
  await mgr.manager.block({ address: '10.68.0.2', ttlSeconds: 600, comment: 'y' }, 'manager');
  await c.stop();

  // The new kit installed at c, the same site folder (outbox, state cursor): c is back.
  c = await node('c', path.join(mdir, 'sites', 'c'), cDir);
  await until('c linked with its new kit', async () => (await leafs()).length === 2);
  await until('the held detection delivered', () => stored('c') === 3);
  await until('c applies blocklist v2', () => c.follower.applied('blocklist')?.version === 2);
  c.outbox.add('detection', { after: true });
  await until("c's new detection stored", () => stored('c') === 4);
  const consumerAfter = await jsm.consumers.info(STATE_STREAM, stateConsumer('c'));
  // The site makes its consumer again from its own cursor (state-follower.ts): under the same name, the one
  // its permissions allow, and from where it stopped, not from the start.
  assert.equal(consumerAfter.name, consumerBefore.name);
  assert.ok(
    (consumerAfter.config.opt_start_seq ?? 0) > (consumerBefore.config.opt_start_seq ?? 0),
    "c's state consumer resumed from its cursor",
  );
  assert.equal(
    mgr.manager.sites().filter((s) => s.site === 'c').length,
    1,
    'one row for c: its health and counts carry on',
  );
  assert.ok(mgr.manager.sites().find((s) => s.site === 'c')!.records >= 4);

  // a was never disturbed.
  assert.ok((await leafs()).includes(aLinks[0]!), "a's link kept");
  a.outbox.add('detection', { after: true });
  await until("a's detection stored", () => stored('a') === 1);
});
