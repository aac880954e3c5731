// A manager upgraded from the one consumer of all sites to one consumer per site, on a real nats-server: the
// old consumer's acknowledged floor is kept (records it had taken are not taken again, those it had not are),
// the old consumer goes, and a site first seen after the upgrade starts after that floor too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { AckPolicy, DeliverPolicy } from 'nats';
import { addSite, openHome } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { FleetManager } from '../../src/fleet/manager.js';
import { siteIngestConsumer } from '../../src/fleet/ingest.js';
import { INGEST_CONSUMER, SITE_STREAM } from '../../src/fleet/subjects.js';
import { freePort, tempDir, until } from './fleet-kit.js';

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
});

test('upgrade: the one consumer of all sites is retired at its floor; nothing taken twice or skipped', async () => {
  const mdir = path.join(tempDir('upgrade'), 'manager');
  const home = openHome(mdir);
  addSite(home, 'a');
  addSite(home, 'b');
  const rt = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: await freePort() },
    leaf: { host: '127.0.0.1', port: await freePort() },
    log: () => undefined,
  });
  stops.push(() => rt.stop());
  await rt.manager.stop(); // its intake only: the hub and the stream stay
  const js = rt.nc.jetstream();
  const jsm = await rt.nc.jetstreamManager();
  const rec = (site: string, i: number) =>
    js.publish(
      `weir.site.${site}.detection`,
      Buffer.from(JSON.stringify({ id: `${site}:d-${i}`, at: i, kind: 'detection', body: { i } })),
      { msgID: `${site}:d-${i}` },
    );
  for (let i = 0; i < 150; i++) await rec('a', i);
  // The manager of before: one consumer of everything, the first 100 taken and acknowledged.
  await jsm.consumers.add(SITE_STREAM, {
    durable_name: INGEST_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const old = await js.consumers.get(SITE_STREAM, INGEST_CONSUMER);
  const it = await old.fetch({ max_messages: 100, expires: 2000 });
  for await (const m of it) await m.ackAck();
  assert.equal((await jsm.consumers.info(SITE_STREAM, INGEST_CONSUMER)).ack_floor.stream_seq, 100);

  const mgr = new FleetManager(rt.db, rt.nc, {
    publisher: 'weir-manager',
    signingKeyPem: rt.home.signingKeyPem,
    log: () => undefined,
  });
  await mgr.startIngest();
  stops.push(() => mgr.stop());
  const ids = (site: string): string[] =>
    (
      rt.db
        .prepare('SELECT id FROM fleet_records WHERE site = ? ORDER BY stream_seq')
        .all(site) as Array<{
        id: string;
      }>
    ).map((r) => r.id);
  await until('the 50 not taken before', () => ids('a').length === 50, 15_000);
  assert.deepEqual(
    ids('a'),
    Array.from({ length: 50 }, (_, i) => `a:d-${100 + i}`),
  );
  await assert.rejects(jsm.consumers.info(SITE_STREAM, INGEST_CONSUMER), /not found/i);
  await jsm.consumers.info(SITE_STREAM, siteIngestConsumer('a'));
  // A site first heard of after the upgrade.
  for (let i = 0; i < 10; i++) await rec('b', i);
  await until('b taken', () => ids('b').length === 10, 15_000);
  assert.equal(ids('a').length, 50);
});
