// The fleet's transport with real nats-server processes on loopback: a hub with JetStream, a leaf per site
// (mTLS, mapped to a site user whose permissions the hub enforces), the outbox delivering exactly once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { connect } from 'nats';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { siteUser } from '../../src/fleet/pki.js';
import { HUB_DOMAIN, SITE_STREAM, siteInbox } from '../../src/fleet/subjects.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';

const dir = tempDir('fleet-transport');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function fleet(): Promise<{
  mgr: ManagerRuntime;
  a: NodeRuntime;
  aPort: number;
  hubClient: string;
}> {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  addSite(home, 'a');
  addSite(home, 'b');
  const leafPort = await freePort();
  const clientPort = await freePort();
  const mgr = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: clientPort },
    leaf: { host: '127.0.0.1', port: leafPort },
    log: () => undefined,
  });
  stops.push(() => mgr.stop());
  const aPort = await freePort();
  const a = await NodeRuntime.start({
    kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
    dir: tempDir('site-a'),
    client: { host: '127.0.0.1', port: aPort },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: new MemoryBackend(),
    log: () => undefined,
  });
  stops.push(() => a.stop());
  return { mgr, a, aPort, hubClient: `127.0.0.1:${clientPort}` };
}

const count = (mgr: ManagerRuntime, site: string, kind: string): number =>
  (
    mgr.db
      .prepare('SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = ?')
      .get(site, kind) as { n: number }
  ).n;

test('a site delivers its detections to the manager exactly once, and may not publish as another site', async () => {
  const { mgr, a, aPort, hubClient } = await fleet();
  for (let i = 0; i < 200; i++) a.outbox.add('detection', { n: i, type: 'port_scan' });
  await until('200 detections at the manager', () => count(mgr, 'a', 'detection') === 200);
  assert.equal(await a.outbox.drain(5000), 0);

  // Site users have no password (the leaf link's certificate is their proof): on the hub's client port, which
  // the manager's host exposes, nobody may connect as a site.
  await assert.rejects(
    connect({
      servers: hubClient,
      user: siteUser('a', mgr.home.generations.a ?? 0),
      reconnect: false,
    }),
    /Authorization Violation/i,
  );

  // Straight onto the site's leaf, as a compromised process at site a would: under b's subject.
  const nc = await connect({ servers: `127.0.0.1:${aPort}`, inboxPrefix: siteInbox('a') });
  const js = nc.jetstream({ domain: HUB_DOMAIN, timeout: 1500 });
  await assert.rejects(
    js.publish(
      'weir.site.b.detection',
      Buffer.from('{"id":"b:forged","at":0,"kind":"detection","body":{}}'),
      {
        msgID: 'b:forged',
      },
    ),
    'the hub refuses site a publishing under site b',
  );
  // The same id twice on a's own subject: JetStream keeps one (Nats-Msg-Id), the manager stores one.
  const rec = Buffer.from(
    JSON.stringify({ id: 'a:dup-1', at: 1, kind: 'detection', body: { dup: true } }),
  );
  const first = await js.publish('weir.site.a.detection', rec, { msgID: 'a:dup-1' });
  const again = await js.publish('weir.site.a.detection', rec, { msgID: 'a:dup-1' });
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true);
  assert.equal(again.seq, first.seq);
  // Past JetStream's window (a copy from a site that was away longer): the manager's insert by id still keeps one.
  await js.publish('weir.site.a.detection', rec, { msgID: 'a:dup-1-late-copy' });
  await until('the copies taken in', () => mgr.manager.duplicates >= 1);
  assert.equal(count(mgr, 'a', 'detection'), 201);
  assert.equal(count(mgr, 'b', 'detection'), 0, 'nothing under site b reached the manager');
  const jsm = await mgr.nc.jetstreamManager();
  const subjects = await jsm.streams.info(SITE_STREAM, { subjects_filter: '>' });
  assert.equal(subjects.state.subjects?.['weir.site.b.detection'], undefined);
  await nc.close();
});
