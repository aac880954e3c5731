// The node's disk fills while its outbox records (a small tmpfs the test mounts, filled by a file). The site
// must keep enforcing; the records the disk refuses are held, counted and reported loudly as at risk; the
// outbox is never corrupted; recording resumes, in order, when space returns; nothing recorded before is lost.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { Outbox } from '../../src/fleet/outbox.js';
import { FleetBackend } from '../../src/fleet/fleet-backend.js';
import { canBuildLab } from '../lab/plant.js';
import { MemoryBackend, tempDir } from './fleet-kit.js';

const mounts: string[] = [];
after(() => {
  for (const m of mounts) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
});

/** Fill the file system of `dir` with one file until it refuses more (ENOSPC). */
function fill(dir: string): string {
  const f = path.join(dir, 'filler');
  const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
  try {
    writeFileSync(f, Buffer.alloc(free + 4096));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  return f;
}

test('disk full while the outbox records: enforcement goes on, records are held and reported at risk, nothing is corrupted or lost, recording resumes', (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root to mount a tmpfs');
    return t.skip('needs root');
  }
  const dir = path.join(tempDir('outbox-full'), 'node');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  mounts.push(dir);
  const db = openFleetDb(path.join(dir, 'node.db'));
  const said: string[] = [];
  const outbox = new Outbox(db, 'a', { log: (m) => said.push(m), holdMax: 40 });
  const local = new MemoryBackend();
  const site = new FleetBackend(local, outbox);

  const before: string[] = [];
  for (let n = 0; n < 50; n++) before.push(outbox.add('detection', { n, phase: 'before' }));
  assert.equal(outbox.pending, 50);

  const filler = fill(dir);
  // Records until the disk refuses one (SQLite may still have a free page or two in its files).
  const during: string[] = [];
  let n = 0;
  while (outbox.atRisk === 0 && n < 5000)
    during.push(outbox.add('detection', { n: n++, phase: 'during', pad: 'x'.repeat(500) }));
  assert.ok(outbox.atRisk > 0, 'the disk refused a record');
  assert.ok(
    said.some((m) => /DISK REFUSES RECORDS/.test(m) && /at risk/.test(m)),
    `said loudly: ${said.join(' | ')}`,
  );
  const onDisk = outbox.pending;

  // The site keeps enforcing: a playbook block lands in its kernel while the disk is full, without a throw.
  return (async () => {
    await site.block('10.78.0.66', 600, 'playbook contain-scans: port_scan, disk full');
    assert.ok(local.blocks.has('10.78.0.66'), 'enforced locally with the disk full');
    for (let k = 0; k < 10; k++)
      during.push(outbox.add('detection', { n: n++, phase: 'during', pad: 'x'.repeat(500) }));
    const held = outbox.atRisk;
    assert.ok(held >= 11, `the block request and the detections wait in memory (${held})`);
    assert.equal(outbox.pending, onDisk, 'nothing half-written');
    // Beyond the memory hold, records are lost, counted and said.
    for (let k = 0; k < 40; k++)
      during.push(outbox.add('detection', { n: n++, phase: 'during', pad: 'x'.repeat(500) }));
    assert.equal(outbox.atRisk, 40);
    assert.ok(outbox.lost > 0, 'lost beyond the hold, counted');
    assert.equal(
      (db.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]!.integrity_check,
      'ok',
    );

    // Space returns: the held records go in first, in order, then the new ones.
    rmSync(filler);
    const afterId = outbox.add('detection', { n: n++, phase: 'after' });
    assert.equal(outbox.atRisk, 0);
    assert.ok(said.some((m) => /takes records again/.test(m) && /LOST/.test(m)));
    assert.equal(
      (db.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]!.integrity_check,
      'ok',
    );
    const rows = db.prepare('SELECT id, kind, body FROM outbox ORDER BY seq').all() as Array<{
      id: string;
      kind: string;
      body: string;
    }>;
    const ids = rows.map((r) => r.id);
    for (const id of before) assert.ok(ids.includes(id), 'nothing recorded before is lost');
    assert.equal(new Set(ids).size, ids.length, 'none twice');
    assert.equal(ids.at(-1), afterId, 'the newest last');
    const nums = rows
      .filter((r) => r.kind === 'detection')
      .map((r) => (JSON.parse(r.body) as { n: number; phase: string }).n);
    const phases = rows
      .filter((r) => r.kind === 'detection')
      .map((r) => (JSON.parse(r.body) as { phase: string }).phase);
    assert.deepEqual(
      nums.slice(50, -1),
      [...nums.slice(50, -1)].sort((x, y) => x - y),
      'held records kept their order',
    );
    assert.equal(phases.filter((p) => p === 'before').length, 50);
    assert.ok(
      rows.some((r) => r.kind === 'block' && r.body.includes('10.78.0.66')),
      'the block made while the disk was full goes to the manager after all',
    );
    assert.equal(
      rows.length,
      50 + during.length + 1 - outbox.lost + 1,
      'every record but the lost ones (counted) is on disk',
    );
    db.close();
  })();
});
