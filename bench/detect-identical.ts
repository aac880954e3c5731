// Are this build's detections byte-identical to another build's? Runs the same detection passes with both
// builds' modules (each in its own process) and compares the JSON lines:
//   node dist/bench/detect-identical.js PEER_DIST INPUT.pcap BASELINE.json
// Passes: INPUT against BASELINE with the engine sharing the inventory's edges (the bench's and `weir node`'s
// path), with its own edge table and the live callback (`weir detect`'s path: each detection as it opens, then
// the final list), and learn-the-first-half/detect-the-rest on INPUT and on every fixture capture.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Detected {
  finish(): unknown[];
}

async function dump(dist: string, input: string, baselineFile: string, out: string): Promise<void> {
  const load = async <T>(p: string): Promise<T> =>
    (await import(pathToFileURL(path.join(dist, p)).href)) as T;
  const { readCaptureSync } =
    await load<typeof import('../src/capture/source.js')>('src/capture/source.js');
  const { DissectPipeline } =
    await load<typeof import('../src/dissect/pipeline.js')>('src/dissect/pipeline.js');
  const { Inventory } = await load<typeof import('../src/discover/inventory.js')>(
    'src/discover/inventory.js',
  );
  const { DetectionEngine } =
    await load<typeof import('../src/detect/engine.js')>('src/detect/engine.js');
  const { learnThenDetect } = await load<typeof import('./detect.js')>('bench/detect.js');
  const baseline = JSON.parse(readFileSync(baselineFile, 'utf8'));
  const write = (name: string, lines: unknown[]): void =>
    writeFileSync(
      path.join(out, `${name}.jsonl`),
      lines.map((d) => `${JSON.stringify(d)}\n`).join(''),
    );
  {
    const inv = new Inventory();
    const eng: Detected = new DetectionEngine(baseline, { inventory: inv });
    const p = new DissectPipeline([inv, eng as never]);
    readCaptureSync(input, (f) => p.push(f));
    write('input-shared-edges', eng.finish());
  }
  {
    const live: unknown[] = [];
    const eng: Detected = new DetectionEngine(baseline, {
      onDetection: (d) => live.push(JSON.parse(JSON.stringify(d))),
    });
    const p = new DissectPipeline([eng as never]);
    readCaptureSync(input, (f) => p.push(f));
    write('input-own-edges', eng.finish());
    write('input-own-edges-live', live);
  }
  write('input-half', learnThenDetect(input, 0.5).detections);
  const fixtures = path.join(path.dirname(dist), 'fixtures');
  for (const f of readdirSync(fixtures)
    .filter((n) => /\.(pcap|pcapng)$/.test(n))
    .sort())
    write(`fixture-${f}`, learnThenDetect(path.join(fixtures, f), 0.5).detections);
}

const self = fileURLToPath(import.meta.url);
const ours = path.resolve(path.dirname(self), '..');
if (process.argv[2] === '--dump') {
  const [dist, input, baseline, out] = process.argv.slice(3) as [string, string, string, string];
  await dump(dist, input, baseline, out);
} else {
  const [peer, input, baseline] = process.argv.slice(2);
  if (!peer || !input || !baseline)
    throw new Error('usage: detect-identical PEER_DIST INPUT.pcap BASELINE.json');
  const dirs: string[] = [];
  for (const dist of [ours, path.resolve(peer)]) {
    const out = mkdtempSync(path.join(os.tmpdir(), 'weir-identical-'));
    const r = spawnSync(process.execPath, [self, '--dump', dist, input, baseline, out], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`detection pass with ${dist} failed`);
    dirs.push(out);
  }
  let differ = 0;
  for (const f of readdirSync(dirs[0]!).sort()) {
    const a = readFileSync(path.join(dirs[0]!, f));
    const b = readFileSync(path.join(dirs[1]!, f));
    const lines = a.toString().split('\n').length - 1;
    const same = a.equals(b);
    if (!same) differ++;
    console.log(
      `${same ? 'identical' : 'DIFFERENT'}  ${f} (${lines} detections, ${a.length} bytes)`,
    );
  }
  console.log(`outputs in ${dirs[0]} (this build) and ${dirs[1]} (peer)`);
  if (differ > 0) process.exitCode = 1;
}
