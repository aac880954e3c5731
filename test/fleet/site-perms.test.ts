// An attacker holding site a (a process on a's host, talking to a's leaf with a's credentials) against the
// hub's permissions for site a, with real nats-server processes and a real nats client: it may read the
// state only through its own consumer; it may not make, read or delete another site's consumer, make an
// unnamed one, purge or delete the state, write to the bucket, or listen to the manager's and other sites'
// replies (where the manager's pulls carry every site's records).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import {
  HUB_DOMAIN,
  STATE_BUCKET,
  STATE_STREAM,
  siteInbox,
  stateConsumer,
} from '../../src/fleet/subjects.js';
import { freePort, MemoryBackend, sleep, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-perms');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test("a site reads state only through its own consumer and cannot touch another site's, the stream or the bucket", async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const { mgr, leafPort } = await startManager(mdir, stops);
  const nodes: Record<string, { rt: NodeRuntime; port: number }> = {};
  for (const s of ['a', 'b']) {
    const port = await freePort();
    const rt = await NodeRuntime.start({
      kit: readSiteKit(s, path.join(mdir, 'sites', s)),
      dir: tempDir(`site-${s}`),
      client: { host: '127.0.0.1', port },
      hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
      local: new MemoryBackend(),
      log: () => undefined,
    });
    stops.push(() => rt.stop());
    nodes[s] = { rt, port };
  }
  const a = nodes.a!;
  const b = nodes.b!;
  // Both sites follow the state through their own consumers.
  await mgr.manager.block({ address: '10.66.0.9', ttlSeconds: 600, comment: 'test' }, 'manager');
  await until('both sites at blocklist v1', () =>
    [a, b].every((n) => n.rt.follower.applied('blocklist')?.version === 1),
  );
  const mjsm = await mgr.nc.jetstreamManager();
  assert.ok(await mjsm.consumers.info(STATE_STREAM, stateConsumer('b')));
  const lastRevision = async (): Promise<number> =>
    (await mjsm.streams.info(STATE_STREAM)).state.last_seq;
  const before = await lastRevision();

  // The attacker at site a: a's leaf, a's inbox prefix (the only one the hub answers a under).
  const nc: NatsConnection = await connect({
    servers: `127.0.0.1:${a.port}`,
    inboxPrefix: siteInbox('a'),
  });
  stops.push(() => nc.close());
  const jsm = await nc.jetstreamManager({ domain: HUB_DOMAIN, timeout: 1500, checkAPI: false });
  const js = nc.jetstream({ domain: HUB_DOMAIN, timeout: 1500 });

  // Its own consumer: allowed (what its follower uses).
  assert.ok(await jsm.consumers.info(STATE_STREAM, stateConsumer('a')));
  // Every refusal below is the hub keeping the request from JetStream: the leaf learns no interest in a
  // subject its site may not publish, so the client is told nobody answers (503).
  const refused = (what: string, p: Promise<unknown>): Promise<void> =>
    assert.rejects(p, /TIMEOUT|503|no responders|permission/i, what);
  await refused(
    "make a consumer under site b's name",
    jsm.consumers.add(STATE_STREAM, { name: stateConsumer('b'), ack_policy: AckPolicy.None }),
  );
  await refused(
    'make an unnamed consumer',
    jsm.consumers.add(STATE_STREAM, { ack_policy: AckPolicy.None }),
  );
  await refused(
    'make a durable consumer',
    jsm.consumers.add(STATE_STREAM, { durable_name: 'sneaky', ack_policy: AckPolicy.None }),
  );
  await refused("delete site b's consumer", jsm.consumers.delete(STATE_STREAM, stateConsumer('b')));
  await refused("read site b's consumer", jsm.consumers.info(STATE_STREAM, stateConsumer('b')));
  await refused('list the consumers', jsm.consumers.list(STATE_STREAM).next());
  await refused('purge the state stream', jsm.streams.purge(STATE_STREAM));
  await refused('delete a state message', jsm.streams.deleteMessage(STATE_STREAM, 1));
  await refused('delete the state stream', jsm.streams.delete(STATE_STREAM));
  await refused(
    'write a document into the bucket',
    js.publish(`$KV.${STATE_BUCKET}.blocklist`, Buffer.from('{"doc":"{}","sig":""}')),
  );
  await refused('read the site stream', jsm.streams.info('WEIR_SITES'));
  // Made-up subjects under its own subtree: each would get a per-subject cap of its own in the site stream
  // (a way around the bound on what one site may hold there), so only the kinds a site sends are allowed.
  for (const junk of ['weir.site.a.junk-1', 'weir.site.a.detection.extra', 'weir.site.a.x.y'])
    await refused(`publish to ${junk}`, js.publish(junk, Buffer.from('{}')));

  // Nothing of it happened: b's consumer is there and b still follows; the bucket has what the manager put.
  assert.ok(await mjsm.consumers.info(STATE_STREAM, stateConsumer('b')));
  assert.equal(await lastRevision(), before);
  await mgr.manager.block({ address: '10.66.0.10', ttlSeconds: 600, comment: 'test' }, 'manager');
  await until('b at blocklist v2', () => b.rt.follower.applied('blocklist')?.version === 2);

  // Listening in: at a's leaf, on every inbox and every site subject, while b sends records the manager
  // pulls (into its own inbox). The hub lets a subscribe to a's inboxes alone, so nothing arrives.
  const spy = await connect({ servers: `127.0.0.1:${a.port}` });
  stops.push(() => spy.close());
  let heard = 0;
  // (At a's own leaf it hears a's own traffic, of course: only what is not a's counts.)
  const notA = (subject: string, data: Uint8Array): boolean =>
    (subject.startsWith('_INBOX.') && !subject.startsWith(`${siteInbox('a')}.`)) ||
    (subject.startsWith('weir.site.') && !subject.startsWith('weir.site.a.')) ||
    Buffer.from(data).toString().includes('site b only');
  for (const subj of ['_INBOX.>', 'weir.site.>', '>'])
    spy.subscribe(subj, { callback: (_e, m) => void (notA(m.subject, m.data) && heard++) });
  await spy.flush();
  await sleep(300);
  const stored = (site: string): number =>
    (
      mgr.db
        .prepare("SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = 'detection'")
        .get(site) as { n: number }
    ).n;
  for (let i = 0; i < 20; i++) b.rt.outbox.add('detection', { n: i, secret: 'site b only' });
  await until("b's 20 detections at the manager", () => stored('b') === 20);
  await sleep(300);
  assert.equal(heard, 0, "site a heard none of b's records, the manager's replies or the state");
});
