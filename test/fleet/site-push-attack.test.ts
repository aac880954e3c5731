// Site a may make its own consumer, and a consumer's configuration is the site's to write: it makes it a push
// consumer delivering the state into the hub's JetStream API (a purge of the state) and onto site b's subject
// (records in b's name). Neither happens: the state stays whole and nothing lands under b.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { AckPolicy, DeliverPolicy, connect } from 'nats';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import {
  HUB_DOMAIN,
  SITE_STREAM,
  STATE_STREAM,
  siteInbox,
  stateConsumer,
} from '../../src/fleet/subjects.js';
import { freePort, MemoryBackend, sleep, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-push');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test("a site's own consumer turned into a push consumer cannot purge the state or write as another site", async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const { mgr, leafPort } = await startManager(mdir, stops);
  const port = await freePort();
  const rt = await NodeRuntime.start({
    kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
    dir: tempDir('site-a'),
    client: { host: '127.0.0.1', port },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: new MemoryBackend(),
    log: () => undefined,
  });
  stops.push(() => rt.stop());
  await mgr.manager.block({ address: '10.66.0.9', ttlSeconds: 600, comment: 'test' }, 'manager');
  await until('a at v1', () => rt.follower.applied('blocklist')?.version === 1);
  // The attacker takes over a's consumer name (its follower stopped).
  await rt.follower.stop();
  const mjsm = await mgr.nc.jetstreamManager();
  const before = (await mjsm.streams.info(STATE_STREAM)).state.messages;
  const nc = await connect({ servers: `127.0.0.1:${port}`, inboxPrefix: siteInbox('a') });
  stops.push(() => nc.close());
  const jsm = await nc.jetstreamManager({ domain: HUB_DOMAIN, timeout: 2000, checkAPI: false });
  for (const target of [`$JS.API.STREAM.PURGE.${STATE_STREAM}`, 'weir.site.b.detection']) {
    await jsm.consumers.delete(STATE_STREAM, stateConsumer('a')).catch(() => undefined);
    await jsm.consumers.add(STATE_STREAM, {
      name: stateConsumer('a'),
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      deliver_subject: target,
    });
    await sleep(1000);
  }
  await jsm.consumers.delete(STATE_STREAM, stateConsumer('a')).catch(() => undefined);
  assert.equal(
    (await mjsm.streams.info(STATE_STREAM)).state.messages,
    before,
    'the state is whole',
  );
  const subjects = (await mjsm.streams.info(SITE_STREAM, { subjects_filter: '>' })).state.subjects;
  assert.equal(subjects?.['weir.site.b.detection'], undefined, 'nothing under site b');
});
