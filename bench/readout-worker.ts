// One fresh process: dissect + discover a capture, then read the inventory out, timing the read-out on its own.
// `DIST` (optional) is another build's dist folder, so the previous build runs the same measurement:
//   node dist/bench/readout-worker.js FILE [DIST] [json]
// Prints wall and CPU seconds of the whole pass, then CPU seconds of the read-out alone (`snapshot`, or with
// `json` the streamed read-out written as `discover --json` writes it, to nowhere).
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [file, dist, how] = process.argv.slice(2);
if (!file) throw new Error('usage: readout-worker FILE [DIST] [json]');
const root = dist ? pathToFileURL(resolve(dist)).href : new URL('..', import.meta.url).href;
const { readCaptureSync } = (await import(
  `${root}/src/capture/source.js`
)) as typeof import('../src/capture/source.js');
const { DissectPipeline } = (await import(
  `${root}/src/dissect/pipeline.js`
)) as typeof import('../src/dissect/pipeline.js');
const { Inventory } = (await import(
  `${root}/src/discover/inventory.js`
)) as typeof import('../src/discover/inventory.js');

const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const inv = new Inventory();
const p = new DissectPipeline([inv]);
readCaptureSync(file, (f) => p.push(f));
const c1 = process.cpuUsage();
let sink = 0;
if (how === 'json') {
  const r = inv.readOut();
  sink += JSON.stringify(r.assets).length;
  for (const e of r.edges()) sink += JSON.stringify(e).length;
} else {
  const s = inv.snapshot();
  sink += s.assets.length + s.edges.length;
}
const c = process.cpuUsage(c0);
const r = process.cpuUsage(c1);
process.stdout.write(
  `${Number(process.hrtime.bigint() - t0) / 1e9} ${(c.user + c.system) / 1e6} ${(r.user + r.system) / 1e6} ${sink}\n`,
);
