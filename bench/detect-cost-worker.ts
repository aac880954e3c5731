// One timed pass in a fresh process: `discover` (pipeline + inventory) or `detect` (the same plus the detection
// engine against a baseline JSON). Separate processes keep one variant's JIT feedback from slowing the other.
import { readFileSync } from 'node:fs';
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';
import type { Baseline } from '../src/discover/baseline.js';
import { DetectionEngine } from '../src/detect/engine.js';

const [mode, file, baselineFile] = process.argv.slice(2);
if (!file || (mode !== 'discover' && mode !== 'detect'))
  throw new Error('usage: detect-cost-worker discover|detect FILE [BASELINE.json]');
// Parsed before the timer (as `weir detect` reads its store before the pass); the engine's compile is timed. The
// engine keeps no reference to the parsed document, and neither does this worker once the engine is built.
let baseline =
  mode === 'detect' ? (JSON.parse(readFileSync(baselineFile!, 'utf8')) as Baseline) : null;
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const inv = new Inventory();
if (baseline === null) {
  const p = new DissectPipeline([inv]);
  readCaptureSync(file, (f) => p.push(f));
  inv.snapshot();
} else {
  const eng = new DetectionEngine(baseline, { inventory: inv });
  baseline = null;
  // The engine shares the inventory's edge lookup: the inventory first.
  const p = new DissectPipeline([inv, eng]);
  readCaptureSync(file, (f) => p.push(f));
  inv.snapshot();
  eng.finish();
}
// Wall seconds, then CPU seconds (user + system) of this pass: on a shared machine only the latter compares.
const c = process.cpuUsage(c0);
process.stdout.write(
  `${Number(process.hrtime.bigint() - t0) / 1e9} ${(c.user + c.system) / 1e6}\n`,
);
