import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import type { EdgeRecord } from '../../src/discover/edge-book.js';
import { packEdges, unpackEdges } from '../../src/discover/shard-protocol.js';
import { repoRoot } from '../helpers/paths.js';

function edgeRecordsOf(file: string): EdgeRecord[] {
  const inv = new Inventory();
  const p = new DissectPipeline([inv]);
  readCaptureSync(file, (f) => p.push(f));
  return inv.edgeBook!.records(false);
}

test('edge records handed back as JSON text read back equal to their structured clone', () => {
  for (const name of ['plant.pcap', 'identity.pcap']) {
    const records = edgeRecordsOf(path.join(repoRoot, 'fixtures', name));
    assert.ok(records.length > 0, name);
    const packed = packEdges(records);
    assert.equal(typeof packed.json, 'string', `${name}: sent as text`);
    assert.deepEqual(packed.records, []);
    assert.deepStrictEqual(unpackEdges(packed), structuredClone(records), name);
  }
});

test('a shard whose edges do not fit one string (V8 caps a string at ~2^29 characters) still hands them all back', () => {
  const records = edgeRecordsOf(path.join(repoRoot, 'fixtures', 'plant.pcap'));
  const tooLong = (): string => {
    throw new RangeError('Invalid string length');
  };
  const packed = packEdges(records, tooLong);
  assert.equal(packed.json, undefined, 'falls back to the structured clone');
  assert.equal(packed.records, records);
  assert.deepStrictEqual(unpackEdges(packed), records);
});

test('a value JSON cannot carry (a BigInt) falls back to the structured clone instead of failing the run', () => {
  const records = edgeRecordsOf(path.join(repoRoot, 'fixtures', 'plant.pcap'));
  const odd = [...records, { ...records[0]!, extra: 1n } as unknown as EdgeRecord];
  const packed = packEdges(odd);
  assert.equal(packed.json, undefined);
  assert.equal(unpackEdges(packed).length, odd.length);
});
