// `weir baseline unmute`: a mute made in haste can be undone by a proven analyst, audited, and the finding
// alerts again on the next run. `baseline accept` prints what became normal and warns about risky learns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

test(
  'baseline unmute: role-checked, audited, and the muted finding alerts again',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-unmute-'));
    const db = path.join(dir, 'weir.db');
    try {
      await weirOk(['learn', plant, '--db', db, '--until', '50%', '--create']);
      const detect = async () =>
        (await weirOk(['detect', plant, '--baseline', db, '--from', '50%', '--jsonl'])).stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { id: string; type: string; src: string });
      const scan = (await detect()).find((d) => d.type === 'port_scan')!;
      const admin = await person(db, dir, 'root', ['admin'], { admin: '' });
      const ana = await person(db, dir, 'ana', ['analyst'], { admin });
      const vera = await person(db, dir, 'vera', ['viewer'], { admin });
      await assert.rejects(
        weirOk(['baseline', 'unmute', scan.id, '--db', db, '--token-file', ana]),
        /no mute covers port_scan/,
      );
      await weirOk([
        'baseline',
        'mute',
        scan.id,
        '--db',
        db,
        '--reason',
        'pen test',
        '--token-file',
        ana,
      ]);
      assert.ok(!(await detect()).some((d) => d.type === 'port_scan'), 'muted');
      await assert.rejects(
        weirOk(['baseline', 'unmute', scan.id, '--db', db, '--token-file', vera]),
        /vera \(viewer\) may not act on detections/,
      );
      const r = await weir([
        'baseline',
        'unmute',
        scan.id,
        '--db',
        db,
        '--reason',
        'pen test over',
        '--token-file',
        ana,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /unmuted #1: port_scan 10\.77\.0\.66 → 10\.77\.0\.21 alerts again/);
      assert.ok(
        (await detect()).some((d) => d.type === 'port_scan'),
        'alerts again',
      );
      const edge = (await detect()).find((d) => d.type === 'new_edge')!;
      const accepted = await weirOk([
        'baseline',
        'accept',
        edge.id,
        '--db',
        db,
        '--token-file',
        ana,
      ]);
      assert.match(
        accepted.stdout,
        /10\.77\.0\.66 → 10\.77\.0\.21 over modbus becomes a normal conversation/,
      );
      assert.match(accepted.stderr, /warning: the source 10\.77\.0\.66 is not in the baseline/);
      const d = openStore(db);
      try {
        assert.deepEqual(
          listAudit(d)
            .filter((e) => e.action.startsWith('detection.'))
            .map((e) => `${e.actor} ${e.action}`),
          ['ana detection.muted', 'ana detection.unmuted', 'ana detection.learned'],
        );
      } finally {
        d.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
