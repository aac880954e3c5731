import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { person, weirOk } from '../helpers/weir-cli.js';
import { renderColumns } from '../../src/cli/columns.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

/** Words a table shows (not its rules of dashes); a narrow rendering must show each of them too. */
const words = (text: string): Set<string> =>
  new Set(
    text
      .split(/\s+/)
      .filter((w) => w.length > 0 && w.length <= 16 && !/^-+$/.test(w) && !/^-\[$|^\]-*$/.test(w)),
  );
const tooWide = (text: string, width: number): string[] =>
  text.split('\n').filter((l) => [...l].length > width);

test('renderColumns fits a width: free text wraps at spaces, nothing is cut off, no width means whole lines', () => {
  const head = ['address', 'role', 'explanation'];
  const rows = [
    [
      '10.77.0.21',
      'plc',
      'a long explanation of what this controller did on the network during the capture',
    ],
    ['10.77.0.30', 'engineering_workstation', 'short'],
  ];
  const wide = renderColumns(head, rows, 2, null);
  assert.equal(wide.split('\n').length, 4, 'no width: one line per row');
  for (const width of [60, 40]) {
    const narrow = renderColumns(head, rows, 2, width);
    assert.deepEqual(tooWide(narrow, width), [], narrow);
    for (const w of words(wide)) assert.ok(words(narrow).has(w), `'${w}' still shown at ${width}`);
  }
  // Too narrow for the columns side by side: one record per row, still every word.
  const records = renderColumns(head, rows, 2, 36);
  assert.deepEqual(tooWide(records, 36), [], records);
  assert.match(records, /^role +engineering_workstation$/m);
});

test(
  'COLUMNS=80: discover, detect, user list, policy proposals and audit fit 80 columns and keep every word',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-columns-'));
    try {
      const db = path.join(dir, 'weir.db');
      await weirOk(['discover', plant, '--db', db]);
      await weirOk(['learn', plant, '--db', db, '--until', '50%']);
      await person(db, dir, 'root', ['admin'], { admin: '' });
      const policyFile = path.join(dir, 'p.yaml');
      await weirOk(['policy', 'propose', '--baseline', db, '--out', policyFile]);
      for (const args of [
        ['discover', plant],
        ['detect', plant, '--baseline', db, '--from', '50%', '--no-save'],
        ['user', 'list', '--db', db, '--token-file', path.join(dir, 'token-root')],
        ['policy', 'audit', '--db', db, '--token-file', path.join(dir, 'token-root')],
      ]) {
        const wide = (await weirOk(args)).stdout;
        const narrow = (await weirOk(args, { env: { COLUMNS: '80' } })).stdout;
        assert.deepEqual(tooWide(narrow, 80), [], `weir ${args.join(' ')} at COLUMNS=80`);
        const shown = words(narrow);
        const lost = [...words(wide)].filter((w) => !shown.has(w));
        assert.deepEqual(lost, [], `weir ${args.join(' ')}: words lost at 80 columns`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
