// The inventory is read out one record at a time (a plant of a million edges must not be a million records at
// once): `weir discover --json` must print exactly what the eager read-out printed. The digests below are of
// the eager build's output (commit f63572a) for the same inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { weir } from '../helpers/weir-cli.js';
import { repoRoot } from '../helpers/paths.js';
import { readoutPlant } from '../fixtures-gen/readout-plant.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

/** Digests of the eager read-out's `weir discover --json` (the temporary directory written as TMP). */
const EAGER: Record<string, string> = {
  plant: '5b8da16ec5ee3a1f22eef12b123d4081caa58807cb275778253aa2807c8aabcb',
  generated: '8ea5c874c452fa247f99c3a51a59beac59a2ae86e8e65acbd80b7a3a019d7f46',
  both: '66e8c6c34fcca99fcd09926d874616cee2cc43ad1f5aff83398301551a12f8f5',
};

/** The same through a store, one store for the three runs in turn (the second and third merge into the first). */
const EAGER_STORE: Array<[args: (gen: string) => string[], digest: string]> = [
  [() => ['--json', plant], '5b8da16ec5ee3a1f22eef12b123d4081caa58807cb275778253aa2807c8aabcb'],
  [
    (gen) => ['--json', plant, gen],
    '45ba037841cc27765e4604908c3d84270a2df693214ea79b420e0e70887a3c11',
  ],
  [() => [plant], '52257878a6df69a5e036039d299926f1072b85c84f92fa3c7e11c2598bd2a9f3'],
];

function digest(out: string, dir: string): string {
  return createHash('sha256').update(out.split(dir).join('TMP')).digest('hex');
}

test('discover --json prints byte for byte what the eager read-out printed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-readout-'));
  try {
    const gen = path.join(dir, 'generated.pcap');
    writeFileSync(gen, readoutPlant());
    const runs: Record<string, string[]> = { plant: [plant], generated: [gen], both: [plant, gen] };
    for (const [name, files] of Object.entries(runs)) {
      const r = await weir(['discover', '--json', ...files]);
      assert.equal(r.code, 0, r.stderr);
      if (process.env.PRINT_DIGESTS) {
        console.log(name, digest(r.stdout, dir));
        continue;
      }
      assert.equal(
        digest(r.stdout, dir),
        EAGER[name],
        `${name}: output differs from the eager read-out`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('discover --db merges a streamed delta and prints what the eager merge printed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-readout-db-'));
  try {
    const gen = path.join(dir, 'generated.pcap');
    writeFileSync(gen, readoutPlant());
    const db = path.join(dir, 'store.db');
    for (const [i, [args, want]] of EAGER_STORE.entries()) {
      const r = await weir(['discover', '--db', db, ...args(gen)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        digest(r.stdout, dir),
        want,
        `run ${i + 1}: output differs from the eager merge`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
