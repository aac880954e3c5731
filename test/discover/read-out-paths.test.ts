// The two read-outs build records differently (issue 18): snapshot() builds every edge record once and infers
// roles from them; readOut() infers roles from views of the compact edge state and builds each record only as
// it is taken. Both must give the same assets (roles and reasons included) and edges, in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { readoutPlant } from '../fixtures-gen/readout-plant.js';
import { repoRoot } from '../helpers/paths.js';

function inventoryOf(files: string[]): Inventory {
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  for (const f of files) readCaptureSync(f, (fr) => p.push(fr));
  return inv;
}

test('snapshot() and the streamed readOut() give the same records, roles and order', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-readout-paths-'));
  try {
    const gen = path.join(dir, 'generated.pcap');
    writeFileSync(gen, readoutPlant());
    const plant = path.join(repoRoot, 'fixtures/plant.pcap');
    for (const files of [[plant], [gen], [plant, gen]]) {
      const snap = inventoryOf(files).snapshot();
      const r = inventoryOf(files).readOut();
      const streamed = { assets: r.assets, edges: [...r.edges()] };
      assert.ok(snap.edges.length > 0 && snap.assets.some((a) => a.role !== 'unknown'));
      assert.equal(JSON.stringify(streamed), JSON.stringify(snap), files.join(' + '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
