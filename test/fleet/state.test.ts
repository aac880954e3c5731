// The manager's signed state reaching a site through the hub and its leaf: applied in order after the
// signature and version are checked; a forged document and an old one put back are refused and reported.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { signDoc } from '../../src/fleet/signed-doc.js';
import { STATE_BUCKET } from '../../src/fleet/subjects.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-state');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const POLICY = (n: number): string => `weir: policy/1
zones:
  - { name: z${n}, members: [10.78.0.0/28], mode: monitor }
`;

test('signed state is applied in order; forged and replayed documents are refused and reported', async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const logs: string[] = [];
  const { mgr, leafPort } = await startManager(mdir, stops, (m) => logs.push(m));
  const nodes: Record<string, { rt: NodeRuntime; be: MemoryBackend }> = {};
  for (const s of ['a', 'b']) {
    const be = new MemoryBackend();
    const rt = await NodeRuntime.start({
      kit: readSiteKit(s, path.join(mdir, 'sites', s)),
      dir: tempDir(`site-${s}`),
      client: { host: '127.0.0.1', port: await freePort() },
      hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
      local: be,
      log: () => undefined,
    });
    stops.push(() => rt.stop());
    nodes[s] = { rt, be };
  }
  const { rt: a, be: aBe } = nodes.a!;
  const { be: bBe } = nodes.b!;

  // Policies v1..v3 in a row: each site applies all three, in order.
  for (const n of [1, 2, 3])
    await mgr.manager.publish('policy', () => ({ text: POLICY(n), source: `p${n}.yaml` }));
  await until(
    'three policies at both sites',
    () => aBe.applied.length === 3 && bBe.applied.length === 3,
  );
  assert.deepEqual(aBe.applied, [POLICY(1), POLICY(2), POLICY(3)]);
  assert.deepEqual(bBe.applied, [POLICY(1), POLICY(2), POLICY(3)]);

  // A block decided at site a reaches site b through the manager's signed blocklist.
  await a.backend.block('10.78.0.66', 600, 'playbook contain-scans');
  await until('site b blocks 10.78.0.66', () => bBe.blocks.has('10.78.0.66'));
  assert.ok(aBe.blocks.has('10.78.0.66'));

  // Someone with write access to the bucket but not the manager's key.
  const kv = await mgr.nc.jetstream().views.kv(STATE_BUCKET);
  const rogue = generateKeyPairSync('ed25519').privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  await kv.put(
    'blocklist',
    signDoc(rogue, {
      kind: 'blocklist',
      version: 99,
      publisher: 'rogue',
      body: {
        entries: [{ address: '10.78.0.21', until: 4e9, origin: 'x', comment: 'cut the PLC off' }],
      },
    }),
  );
  // The manager's own v1 policy, put back.
  const old = await kv.get('policy', {
    revision: await kv.history({ key: 'policy' }).then(async (it) => {
      for await (const e of it) return e.revision;
      return 0;
    }),
  });
  await kv.put('policy', old!.value);
  // A genuine document with its body changed after signing.
  const env = JSON.parse(Buffer.from(old!.value).toString()) as { doc: string; sig: string };
  const doc = JSON.parse(env.doc) as { version: number; body: { text: string } };
  doc.version = 50;
  doc.body.text = POLICY(666);
  await kv.put('policy', Buffer.from(JSON.stringify({ doc: JSON.stringify(doc), sig: env.sig })));

  for (const s of ['a', 'b']) {
    const rt = nodes[s]!.rt;
    await until(
      `site ${s} refused three`,
      () => rt.follower.history().filter((h) => h.verdict === 'refused').length === 3,
    );
    const refused = rt.follower.history().filter((h) => h.verdict === 'refused');
    assert.deepEqual(
      refused.map((r) => [r.kind, r.version, r.reason.split(':')[0]]),
      [
        ['blocklist', 99, 'unknown-key'],
        ['policy', 1, 'replayed'],
        ['policy', 50, 'forged'],
      ],
    );
  }
  assert.ok(
    !aBe.blocks.has('10.78.0.21') && !bBe.blocks.has('10.78.0.21'),
    'the forged block was not applied',
  );
  assert.equal(aBe.applied.length, 3, 'neither the replayed nor the tampered policy was applied');
  // Reported: each site's refusals reach the manager as audit records, once each.
  await until(
    'refusals reported',
    () =>
      (
        mgr.db
          .prepare(
            "SELECT count(*) AS n FROM fleet_records WHERE kind = 'audit' AND body LIKE '%state.refused%'",
          )
          .get() as { n: number }
      ).n === 6,
  );
  assert.ok(logs.some((l) => /site a refused a blocklist document \(v99\)/.test(l)));

  // The manager carries on above what it signed, past what is not its own.
  const v = await mgr.manager.publish('policy', () => ({ text: POLICY(4), source: 'p4.yaml' }));
  assert.equal(v, 4);
  await until('policy v4 at site b', () => bBe.applied.length === 4);
  assert.equal(bBe.applied[3], POLICY(4));
  const bl = await mgr.manager.block(
    { address: '10.78.0.67', ttlSeconds: 60, comment: 'manual' },
    'manager',
  );
  assert.equal(bl, 2, 'the blocklist goes on from the manager’s v1, not the forged v99');
  await until('site a blocks 10.78.0.67', () => aBe.blocks.has('10.78.0.67'));
});
