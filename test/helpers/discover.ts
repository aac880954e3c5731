import assert from 'node:assert/strict';
import path from 'node:path';
import { readCapture } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import type { Asset, InventorySnapshot } from '../../src/discover/model.js';
import { repoRoot } from './paths.js';

/** The bundled demo plant: 10.77.0.30 the engineering workstation, 10.77.0.66 the attacker (scan, writes). */
export const plantCapture = path.join(repoRoot, 'fixtures/plant.pcap');

/** The inventory of capture files, read through the real capture reader and dissectors. */
export async function discoverFiles(...files: string[]): Promise<InventorySnapshot> {
  const inv = new Inventory();
  for (const f of files) {
    const p = new DissectPipeline({
      onPacket: (x) => inv.onPacket(x),
      onMessage: (m) => inv.onMessage(m),
    });
    await readCapture(f, (fr) => p.push(fr));
  }
  return inv.snapshot();
}

/** The asset with this id; fails the test when missing. */
export function assetOf(s: InventorySnapshot, id: string): Asset {
  const a = s.assets.find((x) => x.id === id);
  assert.ok(a, `asset ${id} found`);
  return a;
}
