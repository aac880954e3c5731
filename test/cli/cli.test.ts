import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, sharedCapture } from '../helpers/paths.js';
import { person, weirOk } from '../helpers/weir-cli.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const weir = (...args: string[]) => run(process.execPath, [cli, ...args], { maxBuffer: 1 << 27 });

test('weir dissect --jsonl prints one JSON line per ICS message, with frame, addressing and function', async (t) => {
  const f = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f) return t.skip('capture missing');
  const { stdout } = await weir('dissect', f, '--jsonl');
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.length > 40, `${lines.length} messages`);
  for (const m of lines) {
    assert.equal(m.protocol, 'modbus');
    for (const k of ['frame', 'ts', 'src', 'dst', 'func', 'role']) assert.ok(k in m, `field ${k}`);
  }
  const fc3 = lines.find((m) => m.func === 3 && m.role === 'request')!;
  assert.ok(Array.isArray(fc3.targets), 'FC3 request has a register range');
});

test('weir dissect reads a capture from stdin', async (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!f) return t.skip('capture missing');
  const child = execFile(process.execPath, [cli, 'dissect', '-', '--jsonl'], {
    maxBuffer: 1 << 27,
  });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stdin!.end(readFileSync(f));
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
  assert.equal(code, 0);
  const n = out.join('').trim().split('\n').length;
  const direct = (await weir('dissect', f, '--jsonl')).stdout.trim().split('\n').length;
  assert.equal(n, direct);
});

test('weir discover --json and --db; learn, detect, accept and mute through the CLI', async (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  const m = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f || !m) return t.skip('captures missing');
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
  try {
    const db = path.join(dir, 'plant.db');
    const { stdout } = await weir('discover', f, '--json', '--db', db);
    const inv = JSON.parse(stdout) as {
      assets: Array<{ id: string; role: string }>;
      edges: unknown[];
    };
    assert.equal(inv.assets.find((a) => a.id === '10.10.20.8')?.role, 'rtu');
    const table = (await weir('discover', f)).stdout;
    assert.match(table, /ASSETS/);
    assert.match(table, /10\.10\.20\.8/);

    const learned = (await weir('learn', f, '--db', db, '--note', 'test')).stdout;
    assert.match(learned, /baseline v1/);
    const same = (await weir('detect', f, '--baseline', db)).stdout;
    assert.match(same, /no detections/);
    const other = (await weir('detect', m, '--baseline', db, '--jsonl')).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; type: string });
    assert.ok(other.some((d) => d.type === 'new_asset'));
    const newAsset = other.find((d) => d.type === 'new_asset')!;
    // Curating the baseline changes what counts as normal: a proven analyst does it, and it is audited.
    await assert.rejects(
      weir('baseline', 'accept', newAsset.id, '--db', db, '--as', 'ana'),
      /--as ana alone proves nothing/,
    );
    const admin = await person(db, dir, 'root', ['admin'], { admin: '' });
    const ana = await person(db, dir, 'ana', ['analyst'], { admin });
    const vera = await person(db, dir, 'vera', ['viewer'], { admin });
    await assert.rejects(
      weir('baseline', 'accept', newAsset.id, '--db', db, '--token-file', vera),
      /vera \(viewer\) may not act on detections/,
    );
    assert.match(
      (await weir('baseline', 'accept', newAsset.id, '--db', db, '--token-file', ana)).stdout,
      /baseline v2/,
    );
    const edge = other.find(
      (d) => d.type === 'new_edge' || d.type === 'device_probe' || d.type === 'diagnostic_command',
    )!;
    assert.match(
      (
        await weirOk(
          [
            'baseline',
            'mute',
            edge.id,
            '--db',
            db,
            '--reason',
            'lab',
            '--as',
            'ana',
            '--password-stdin',
          ],
          { input: 'ana-password-123\n' },
        )
      ).stdout,
      /mute #1/,
    );
    const d = openStore(db);
    try {
      assert.deepEqual(
        listAudit(d)
          .filter((e) => e.action.startsWith('detection.'))
          .map((e) => `${e.actor} ${e.action}`),
        ['ana detection.learned', 'ana detection.muted'],
      );
    } finally {
      d.close();
    }
    const list = (await weir('baseline', 'list', '--db', db)).stdout;
    assert.match(list, /v1\t.*\ttest/);
    assert.match(list, /v2/);
    await assert.rejects(
      weir('detect', f, '--baseline', path.join(dir, 'empty.db')),
      /no store at .*empty\.db/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated capture yields its good frames and says where it stopped', async (t) => {
  const f = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f) return t.skip('capture missing');
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
  try {
    const cut = path.join(dir, 'cut.pcap');
    const bytes = readFileSync(f);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    // Exit 4 (documented): the good frames were used, but the capture stopped early.
    const r = await weir('dissect', cut, '--jsonl').then(
      () => assert.fail('a truncated capture must not exit 0'),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(r.code, 4);
    assert.ok(r.stdout.trim().split('\n').length > 10);
    assert.match(r.stderr, /stopped at byte \d+ after \d+ good frames/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('frames of a link type Weir does not dissect are named on stderr, not skipped in silence', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cli-'));
  try {
    const f = path.join(dir, 'user0.pcap');
    const gh = Buffer.alloc(24);
    gh.writeUInt32LE(0xa1b2c3d4, 0);
    gh.writeUInt16LE(2, 4);
    gh.writeUInt16LE(4, 6);
    gh.writeUInt32LE(65535, 16);
    gh.writeUInt32LE(147, 20); // LINKTYPE_USER0
    const recs = [0, 1, 2].map((i) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(1_700_000_000 + i, 0);
      h.writeUInt32LE(40, 8);
      h.writeUInt32LE(40, 12);
      return Buffer.concat([h, Buffer.alloc(40, i)]);
    });
    writeFileSync(f, Buffer.concat([gh, ...recs]));
    const { stderr } = await weir('dissect', f, '--jsonl');
    assert.match(stderr, /frames not dissected: 3 of link type 147 \(user 0\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
