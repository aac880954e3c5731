import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { Exporter } from '../../src/export/exporter.js';
import { DetectionSource } from '../../src/export/detection-source.js';
import { parseDestination } from '../../src/export/destination.js';
import { formatNamed } from '../../src/export/formats/index.js';
import { setSinkCursor } from '../../src/store/export-store.js';
import { detection } from './events.js';
import { eventIdOf, Rsyslog, startRsyslog, stopRsyslog } from './rsyslog.js';
import { cli } from '../helpers/weir-cli.js';

// Durable delivery against a real rsyslogd: the receiver goes away and comes back, Weir is killed with
// SIGKILL in the middle of a queue, and the receiver-side check is by event id: each exactly once, in order.
let dir: string;
let rs: Rsyslog;

before(async () => ({ dir, rs } = await startRsyslog('weir-durable-')));
after(() => stopRsyslog(rs, dir));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The received event ids with a given prefix, in arrival order. */
function receivedIds(prefix: string): string[] {
  return rs
    .received()
    .map((m) => eventIdOf(m) ?? '')
    .filter((id) => id.startsWith(prefix));
}

async function waitIds(prefix: string, n: number, ms = 30_000): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const ids = receivedIds(prefix);
    if (ids.length >= n || Date.now() > until) return ids;
    await sleep(100);
  }
}

for (const transport of ['tcp', 'tls'] as const) {
  test(`receiver down over ${transport}: events wait in the store and arrive once each, in order, when it returns`, async () => {
    const base = transport === 'tcp' ? 10_000 : 20_000;
    const prefix = `det-d${String(base).slice(0, 2)}`;
    const db = openStore(path.join(dir, `down-${transport}.db`));
    const port = transport === 'tcp' ? rs.tcpPort : rs.tlsPort;
    const logs: string[] = [];
    const ex = new Exporter(
      db,
      [
        {
          destination: parseDestination(`syslog+${transport}://127.0.0.1:${port}`),
          format: formatNamed('cef'),
          ca: transport === 'tls' ? rs.certs!.ca : undefined,
        },
      ],
      { maxBackoffMs: 500, log: (m) => logs.push(m) },
    );
    ex.start();
    ex.offerDetections(Array.from({ length: 50 }, (_, i) => detection(base + i)));
    assert.equal((await ex.drain(15_000))[0]!.pending, 0);
    await rs.stop();
    // While the receiver is down, 200 more events: they wait.
    ex.offerDetections(Array.from({ length: 200 }, (_, i) => detection(base + 50 + i)));
    await sleep(1500);
    assert.equal(ex.deliveries[0]!.pending, 200, 'nothing counted as delivered while down');
    assert.ok(
      logs.some((l) => /cannot reach .* events wait in the store/.test(l)),
      logs.join('\n'),
    );
    await rs.start();
    assert.equal((await ex.drain(20_000))[0]!.pending, 0);
    await ex.stop();
    db.close();
    const ids = await waitIds(prefix, 250);
    const want = Array.from({ length: 250 }, (_, i) => `det-d${base + i}-0`);
    assert.deepEqual(ids, want, 'every event exactly once, in order');
  });
}

test('Weir killed (SIGKILL) mid-queue and restarted: by id at the receiver, none lost, in order, a copy only of the batch in flight', async () => {
  const file = path.join(dir, 'kill.db');
  const db = openStore(file);
  const total = 20_000;
  const batch = 5;
  new DetectionSource(db).enqueue(Array.from({ length: total }, (_, i) => detection(700_000 + i)));
  db.close();
  const args = [
    cli,
    'export',
    '--db',
    file,
    '--to',
    `syslog+tcp://127.0.0.1:${rs.tcpPort}`,
    '--format',
    'ecs',
    '--follow',
    '--batch',
    String(batch),
  ];
  const kills = [1500, 8000];
  const killedAt: number[] = [];
  // Two kills at different depths of the queue, then a run that finishes it.
  for (const at of kills) {
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const until = Date.now() + 30_000;
      while (receivedIds('det-d7').length < at && Date.now() < until) await sleep(20);
    } finally {
      // A failed wait must not leave a --follow exporter running: the test file would never end.
      child.kill('SIGKILL');
      await exited;
    }
    killedAt.push(receivedIds('det-d7').length);
  }
  assert.ok(
    killedAt.every((k) => k < total),
    `killed mid-queue (at ${killedAt.join(', ')})`,
  );
  const last = spawn(process.execPath, args, { stdio: 'ignore' });
  await waitIds('det-d7', total, 120_000);
  await sleep(500);
  last.kill('SIGTERM');
  await new Promise((r) => last.once('exit', r));
  const msgs = rs.received().filter((m) => (eventIdOf(m) ?? '').startsWith('det-d7'));
  const all = msgs.map((m) => eventIdOf(m)!);
  const want = Array.from({ length: total }, (_, i) => `det-d${700_000 + i}-0`);
  // The receiver-side check is by event id: every id arrived, and the first arrival of each is in queue order.
  assert.deepEqual([...new Set(all)], want, 'none lost, in order');
  // A copy can only be the one batch whose bytes reached the kernel before the kill let the store record it,
  // sent again whole and identical, so a SIEM drops it by id.
  const copies = all.length - total;
  assert.ok(copies <= batch * kills.length, `${copies} copies`);
  const byId = new Map<string, string>();
  for (const m of msgs) {
    const id = eventIdOf(m)!;
    if (byId.has(id)) assert.equal(m.msg, byId.get(id), 'a copy is identical');
    else byId.set(id, m.msg);
  }
  if (copies > 0) console.log(`# ${copies} copies after ${kills.length} kills (batch ${batch})`);
});

test('JSON lines: rotation keeps disk use bounded, and a restart whose cursor lagged the file writes nothing twice', async () => {
  const file = path.join(dir, 'events.jsonl');
  const db = openStore(path.join(dir, 'jsonl.db'));
  const spec = {
    destination: parseDestination(`jsonl:${file}`),
    format: formatNamed('ecs'),
    rotation: { maxBytes: 64 * 1024, keep: 2 },
  };
  let ex = new Exporter(db, [spec]);
  ex.offerDetections(Array.from({ length: 300 }, (_, i) => detection(40_000 + i)));
  assert.equal((await ex.drain(10_000))[0]!.pending, 0);
  await ex.stop();
  const files = [file, `${file}.1`, `${file}.2`, `${file}.3`].filter(existsSync);
  assert.deepEqual(
    files,
    [file, `${file}.1`, `${file}.2`],
    'current file and two rotated ones, no more',
  );
  for (const f of files) assert.ok(statSync(f).size <= 64 * 1024);
  const lines = (f: string) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
  const kept = [...lines(`${file}.2`), ...lines(`${file}.1`), ...lines(file)];
  const want = Array.from({ length: 300 }, (_, i) => `det-d${40_000 + i}-0`);
  assert.deepEqual(kept, want.slice(300 - kept.length), 'the newest events, in order');
  // A crash between the write and the cursor update: the cursor says nothing was written.
  setSinkCursor(db, ex.deliveries[0]!.name, { sent: 0, acked: 0 });
  ex = new Exporter(db, [spec]);
  ex.offerDetections(Array.from({ length: 10 }, (_, i) => detection(40_300 + i)));
  assert.equal((await ex.drain(10_000))[0]!.pending, 0);
  await ex.stop();
  db.close();
  const after = [...lines(`${file}.2`), ...lines(`${file}.1`), ...lines(file)];
  assert.equal(new Set(after).size, after.length, 'no line twice');
  assert.deepEqual(after.slice(-11), [
    want[299],
    ...Array.from({ length: 10 }, (_, i) => `det-d${40_300 + i}-0`),
  ]);
});

test('receiver stopped in the middle of a stream: nothing lost; any copy is a re-send of the unsettled window, dropped by id', async () => {
  const file = path.join(dir, 'midstream.db');
  const db = openStore(file);
  const total = 3000;
  const ex = new Exporter(
    db,
    [
      {
        destination: parseDestination(`syslog+tcp://127.0.0.1:${rs.tcpPort}`),
        format: formatNamed('cef'),
      },
    ],
    { batch: 5, maxUnsettled: 200, maxBackoffMs: 300, log: () => undefined },
  );
  ex.offerDetections(Array.from({ length: total }, (_, i) => detection(50_000 + i)));
  ex.start();
  const until = Date.now() + 30_000;
  while (receivedIds('det-d5').length < 800 && Date.now() < until) await sleep(10);
  await rs.stop();
  await sleep(500);
  await rs.start();
  assert.equal((await ex.drain(60_000))[0]!.pending, 0);
  await ex.stop();
  db.close();
  const all = await waitIds('det-d5', total);
  const firsts = [...new Set(all)];
  const missing = Array.from({ length: total }, (_, i) => `det-d${50_000 + i}-0`).filter(
    (id) => !firsts.includes(id),
  );
  assert.equal(
    missing.length,
    0,
    `lost: ${missing.length} (${missing.slice(0, 3).join(', ')}…), copies ${all.length - firsts.length}`,
  );
  assert.deepEqual(
    firsts,
    Array.from({ length: total }, (_, i) => `det-d${50_000 + i}-0`),
    'all, in order of first arrival',
  );
  // What came twice was sent in the last settle window before the receiver went: bounded by maxUnsettled.
  assert.ok(all.length - total <= 200, `${all.length - total} copies`);
});

test('two Weir processes exporting to the same destination: one delivers, the other waits and takes over, nothing twice', async () => {
  const file = path.join(dir, 'two.db');
  const dbA = openStore(file);
  const dbB = openStore(file);
  const spec = () => ({
    destination: parseDestination(`syslog+tcp://127.0.0.1:${rs.tcpPort}`),
    format: formatNamed('cef'),
  });
  const logs: string[] = [];
  const a = new Exporter(dbA, [spec()], { log: () => undefined });
  const b = new Exporter(dbB, [spec()], { log: (m) => logs.push(m) });
  a.offerDetections(Array.from({ length: 100 }, (_, i) => detection(60_000 + i)));
  a.start();
  await sleep(200);
  b.start();
  assert.equal((await a.drain(15_000))[0]!.pending, 0);
  // B saw the same queue and waited; more events come, then A stops and B carries on.
  b.offerDetections(Array.from({ length: 100 }, (_, i) => detection(60_100 + i)));
  await sleep(300);
  await a.stop();
  assert.equal((await b.drain(15_000))[0]!.pending, 0);
  await b.stop();
  dbA.close();
  dbB.close();
  assert.ok(
    logs.some((l) => /another Weir process .* waiting/.test(l)),
    logs.join('\n'),
  );
  await waitIds('det-d6', 200);
  await sleep(300);
  assert.deepEqual(
    receivedIds('det-d6'),
    Array.from({ length: 200 }, (_, i) => `det-d${60_000 + i}-0`),
  );
});
