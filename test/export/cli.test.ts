import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { cli, weirOk } from '../helpers/weir-cli.js';
import { repoRoot } from '../helpers/paths.js';
import { openStore } from '../../src/store/db.js';
import { eventIdOf, Rsyslog, startRsyslog, stopRsyslog } from './rsyslog.js';
import { parseLeef } from './parse.js';

// The export surfaces on the sample plant: `weir export`, `weir detect --export` and `weir serve --export`.
let dir: string;
let rs: Rsyslog;
const plant = path.join(repoRoot, 'fixtures/plant.pcap');

before(async () => ({ dir, rs } = await startRsyslog('weir-export-cli-')));
after(() => stopRsyslog(rs, dir));

const ids = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);

test('weir export --jsonl: one event per stored detection; a second run sends nothing again', async () => {
  const sub = mkdtempSync(path.join(dir, 'a-'));
  const db = detectedPlantStore(sub);
  const s = openStore(db);
  const detections = (
    s.prepare('SELECT id FROM detections ORDER BY ts, id').all() as Array<{ id: string }>
  ).map((r) => `det-${r.id}-0`);
  s.close();
  assert.ok(detections.length >= 5, 'the plant fixture has detections');
  const file = path.join(sub, 'events.jsonl');
  const r = await weirOk(['export', '--db', db, '--jsonl', file]);
  assert.match(r.stdout, new RegExp(`${detections.length} events delivered, 0 pending`));
  assert.deepEqual(ids(file), detections);
  const again = await weirOk(['export', '--db', db, '--jsonl', file]);
  assert.match(again.stderr, /0 new events queued/);
  assert.deepEqual(ids(file), detections);
  const status = await weirOk(['export', '--db', db, '--status']);
  assert.match(status.stdout, /jsonl:.*events\.jsonl ecs/);
});

test('weir detect --export: detections reach rsyslog (LEEF over TCP) while the capture is read', async () => {
  const sub = mkdtempSync(path.join(dir, 'b-'));
  const db = detectedPlantStore(sub);
  const r = await weirOk([
    'detect',
    plant,
    '--baseline',
    db,
    '--from',
    '50%',
    '--jsonl',
    '--no-save',
    '--export',
    `syslog+tcp://127.0.0.1:${rs.tcpPort}`,
    '--format',
    'leef',
  ]);
  const want = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => `det-${(JSON.parse(l) as { id: string }).id}-0`);
  assert.ok(want.length >= 5);
  const until = Date.now() + 15_000;
  let got: string[] = [];
  while (Date.now() < until) {
    got = rs
      .received()
      .map((m) => eventIdOf(m) ?? '')
      .filter((id) => want.includes(id));
    if (got.length >= want.length) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual([...new Set(got)].sort(), [...want].sort(), 'every detection, once');
  assert.equal(got.length, want.length);
  const m = rs.received().find((x) => eventIdOf(x) === want[0])!;
  assert.equal(parseLeef(m.msg).header[0], 'LEEF:2.0');
});

test('weir serve --capture --export jsonl: the followed detections are exported live', async () => {
  const sub = mkdtempSync(path.join(dir, 'c-'));
  const db = detectedPlantStore(sub);
  const file = path.join(sub, 'live.jsonl');
  const proc = spawn(
    process.execPath,
    [cli, 'serve', '--db', db, '--port', '0', '--capture', plant, '--export', `jsonl:${file}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 30_000;
  while (!/finished following/.test(out) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /exporting detections to jsonl:/);
  assert.match(out, /finished following/);
  await new Promise((r) => setTimeout(r, 1500));
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  const all = ids(file);
  assert.ok(all.length > 0, 'events written');
  assert.equal(new Set(all).size, all.length, 'none twice');
  // Incidents the followed detections were filed into are exported too.
  const got = all.filter((g) => g.startsWith('det-'));
  const s = openStore(db);
  const stored = new Set(
    (s.prepare('SELECT id FROM detections').all() as Array<{ id: string }>).map((r) => r.id),
  );
  const incidents = (s.prepare('SELECT id FROM incidents').all() as Array<{ id: string }>).map(
    (r) => r.id,
  );
  s.close();
  assert.ok(incidents.length > 0);
  for (const id of incidents) assert.ok(all.includes(`inc-${id}-0`), `incident ${id} exported`);
  for (const id of got)
    assert.ok(stored.has(/^det-(.+)-\d+$/.exec(id)![1]!), `${id} is a stored detection`);
  for (const id of stored)
    assert.ok(
      got.some((g) => g.startsWith(`det-${id}-`)),
      `detection ${id} exported`,
    );
});
