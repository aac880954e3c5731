// The detections of every fixture capture, byte for byte: learn on the first half of its time span, detect on
// the rest, and compare the JSON of each detection (as `weir detect --jsonl` prints it) with the golden file.
// Guards the engine's shortcuts (lazy ids and texts, routing messages only to the detectors that want them):
// they must never change what is reported. The live form (each detection as it opens) is compared too.
//   npm run build && UPDATE_GOLDEN=1 node --test dist/test/detect/detections-golden.test.js && git diff test/detect/golden
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom } from '../../src/discover/baseline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { repoRoot } from '../helpers/paths.js';

const fixtures = path.join(repoRoot, 'fixtures');
const golden = path.join(repoRoot, 'test/detect/golden');
const update = process.env.UPDATE_GOLDEN === '1';

/** Final detections and, separately, each detection as it opened (the live output), one JSON line each. */
function detectSecondHalf(file: string): { final: string; live: string } {
  let first = Infinity,
    last = -Infinity;
  readCaptureSync(file, (f) => {
    if (f.ts < first) first = f.ts;
    if (f.ts > last) last = f.ts;
  });
  const split = first + (last - first) / 2;
  const inv = new Inventory();
  const values = new ValueRanges();
  const live: string[] = [];
  let engine: DetectionEngine | null = null;
  const p = new DissectPipeline({
    onPacket(pkt) {
      if (pkt.ts < split) return inv.onPacket(pkt);
      engine ??= new DetectionEngine(
        baselineFrom(inv.snapshot(), values.ranges(), { version: 1, sources: [file] }),
        { onDetection: (d) => live.push(JSON.stringify(d)) },
      );
      engine.onPacket(pkt);
    },
    onMessage(m) {
      if (m.ts < split) {
        inv.onMessage(m);
        values.onMessage(m);
        return;
      }
      engine!.onMessage(m);
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  // Assigned in the pipeline's callbacks, which the compiler does not follow.
  const ran = engine as DetectionEngine | null;
  const final = ran === null ? [] : ran.finish().map((d) => JSON.stringify(d));
  return { final: final.map((l) => `${l}\n`).join(''), live: live.map((l) => `${l}\n`).join('') };
}

const files = readdirSync(fixtures)
  .filter((f) => /\.(pcap|pcapng)$/.test(f))
  .sort();

test('the fixtures hold captures to detect on', () => {
  assert.ok(files.includes('plant.pcap'), 'fixtures/plant.pcap is missing');
});

for (const f of files) {
  test(`detections on ${f} are exactly the golden ones (final and as they opened)`, () => {
    const got = detectSecondHalf(path.join(fixtures, f));
    for (const [kind, text] of [
      ['final', got.final],
      ['live', got.live],
    ] as const) {
      const file = path.join(golden, `${path.basename(f).replace(/\.[^.]+$/, '')}.${kind}.jsonl`);
      if (update) {
        writeFileSync(file, text);
        continue;
      }
      assert.ok(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 and review it`);
      assert.equal(
        text,
        readFileSync(file, 'utf8'),
        `${kind} detections of ${f} changed; if intended: UPDATE_GOLDEN=1 node --test dist/test/detect/detections-golden.test.js, then review git diff`,
      );
    }
  });
}
