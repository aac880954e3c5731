// The inventory is read out one record at a time (a plant of a million edges must not be a million records at
// once): `weir discover --json` must print exactly what the eager read-out printed. The digests below are of
// the eager build's output (commit f63572a) for the same inputs (PRINT_DIGESTS=1 WEIR_TEST_CLI=<that
// build's dist/src/cli/main.js> prints them again).
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

/** Digests of the eager read-out's `weir discover --json` (the temporary directory written as TMP, the checkout as REPO). */
const EAGER: Record<string, string> = {
  plant: '8dcfbab83d54a31ea441fb86c9de25d8509dfe64bdc99a9ca8a8a854b0d6f60b',
  generated: '8ea5c874c452fa247f99c3a51a59beac59a2ae86e8e65acbd80b7a3a019d7f46',
  both: 'b2cc2d9cef5b1b2d7b8865781185b4c69c8fd48c8c847ff1dee4402d727021fb',
};

/** The same through a store, one store for the three runs in turn (the second and third merge into the first). */
const EAGER_STORE: Array<[args: (gen: string) => string[], digest: string]> = [
  [() => ['--json', plant], '8dcfbab83d54a31ea441fb86c9de25d8509dfe64bdc99a9ca8a8a854b0d6f60b'],
  [
    (gen) => ['--json', plant, gen],
    '4c9983b79c628d63ba4a53b4189d7417be1cf7566639f49a067df3888fdc5479',
  ],
  [() => [plant], '52257878a6df69a5e036039d299926f1072b85c84f92fa3c7e11c2598bd2a9f3'],
];

/** The output with the run's folders named, not spelled: a clone anywhere prints the same digest. */
function digest(out: string, dir: string): string {
  return createHash('sha256')
    .update(out.split(dir).join('TMP').split(repoRoot).join('REPO'))
    .digest('hex');
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
      if (process.env.PRINT_DIGESTS) {
        console.log(`store run ${i + 1}`, digest(r.stdout, dir));
        continue;
      }
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
