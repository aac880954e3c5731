// The site's pipeline in weir node: a scan is detected against the store's baseline, goes to the playbooks
// first and to the outbox, and is filed into the site's store with its incident; the watchers (a site
// publisher's hook) hear of detections, incidents and the inventory. While another process holds a long
// write on the store, nothing upstream waits: detections still reach the playbooks and the outbox, and are
// stored once the store is free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { Outbox } from '../../src/fleet/outbox.js';
import { SitePipeline } from '../../src/fleet/site-pipeline.js';
import type { Detection } from '../../src/detect/detection.js';
import { runCaptures } from '../../src/cli/run-capture.js';
import { plantBaseline, policyText } from '../helpers/plant-fixtures.js';
import { activate } from '../helpers/approved-store.js';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { lockStore } from './lab-sets.js';
import { tempDir } from './fleet-kit.js';

function scanPcap(file: string, attacker: string): string {
  const frames = Array.from(
    { length: 14 },
    (_, i) =>
      new TcpFlow(
        { mac: '02:00:00:00:00:66', ip: attacker, port: 40000 + i },
        { mac: '02:00:00:00:00:21', ip: '10.77.0.21', port: 20 + i * 7 },
      ).handshake()[0]!,
  );
  writeFileSync(file, pcap(frames, Math.floor(Date.now() / 1000)));
  return file;
}

test('the site pipeline: detect, playbooks first, outbox, store and incidents, watchers; a locked store holds up none of it', async () => {
  const dir = tempDir('site-pipeline');
  const file = path.join(dir, 'site.db');
  const seed = openStore(file);
  saveBaseline(seed, plantBaseline());
  seed.close();
  activate(file, policyText('monitor'));
  const store = openStore(file, { busyTimeoutMs: 50 });
  const node = openFleetDb(':memory:');
  const outbox = new Outbox(node, 'a', { log: () => undefined });
  const order: string[] = [];
  const seen = { detections: 0, incidents: 0, assets: 0 };
  const said: string[] = [];
  const pipeline = new SitePipeline(store, {
    outbox,
    first: (d: Detection) => order.push(`playbooks ${d.type} ${d.src}`),
    watchers: [
      {
        onDetection: () => seen.detections++,
        onIncidents: (is) => (seen.incidents += is.length),
        onInventory: (delta) => (seen.assets += delta.assets.length),
      },
    ],
    log: (m) => said.push(m),
  });
  assert.equal(pipeline.detecting, true);

  const release = await lockStore(file, 'write');
  try {
    await runCaptures([scanPcap(path.join(dir, 'scan.pcap'), '10.77.0.66')], pipeline.stages, {
      progress: false,
    });
    assert.ok(order.includes('playbooks port_scan 10.77.0.66'), order.join(', '));
    const inOutbox = outbox.pending;
    assert.ok(inOutbox >= 1, 'the detections are on their way to the manager');
    assert.equal(
      (store.prepare('SELECT count(*) AS n FROM detections').get() as { n: number }).n,
      0,
      'the store is locked: nothing written yet',
    );
    assert.ok(pipeline.busy > 0);
    assert.ok(said.some((m) => /site store is locked/.test(m)));
  } finally {
    await release();
  }
  await pipeline.finish('scan.pcap', null);
  const stored = store.prepare('SELECT id, type, src FROM detections').all() as Array<{
    id: string;
    type: string;
    src: string;
  }>;
  assert.ok(stored.some((d) => d.type === 'port_scan' && d.src === '10.77.0.66'));
  assert.ok(seen.detections >= 1 && seen.incidents >= 1, JSON.stringify(seen));
  assert.ok(seen.assets >= 1, 'the inventory reached the watchers once merged');
  const ids = new Set(
    (
      node.prepare("SELECT body FROM outbox WHERE kind = 'detection'").all() as Array<{
        body: string;
      }>
    ).map((r) => (JSON.parse(r.body) as { id: string }).id),
  );
  for (const d of stored) assert.ok(ids.has(d.id), `${d.type} went to the manager`);
  store.close();
});
