// The lab plant (fixtures/plant.pcap) through dissect, discover and detect must give what the build before the
// issue 18 hot-path work gave, byte for byte: every message as `weir dissect --jsonl --all` prints it, the
// inventory snapshot, and the detections of a learn-the-first-half, detect-the-rest run. Kept as SHA-256 digests
// (test/discover/golden/plant-output.json, written by that earlier build). After an intended change to any of
// the three, regenerate and say why in the commit:
//
//   npm run build && UPDATE_GOLDEN=1 node --test dist/test/discover/plant-output.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { messageJson } from '../../src/cli/commands/dissect.js';
import { learnThenDetect } from '../../bench/detect.js';
import { repoRoot } from '../helpers/paths.js';

const GOLDEN = path.join(repoRoot, 'test/discover/golden/plant-output.json');
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

test('lab plant: messages, inventory and detections are byte-identical to the golden digests', () => {
  const file = path.join(repoRoot, 'fixtures/plant.pcap');
  const lines: string[] = [];
  const inv = new Inventory();
  const p = new DissectPipeline([
    inv,
    { onMessage: (m) => lines.push(JSON.stringify(messageJson(m))) },
  ]);
  readCaptureSync(file, (f) => p.push(f));
  const got = {
    messages: sha(lines.join('\n')),
    stats: sha(JSON.stringify(p.stats)),
    inventory: sha(JSON.stringify(inv.snapshot())),
    detections: sha(JSON.stringify(learnThenDetect(file, 0.5).detections)),
  };
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, JSON.stringify(got, null, 2) + '\n');
  assert.deepEqual(got, JSON.parse(readFileSync(GOLDEN, 'utf8')));
});
