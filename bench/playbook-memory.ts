// Heap a live detection run keeps for its baseline while playbooks run: the engine's compiled baseline, and that
// plus what the playbooks keep of the baseline (their guard's learned flows and the asset set; before this branch,
// the whole parsed document and a guard over it). Each measured in a fresh process, after forced collections:
//   node --expose-gc dist/bench/playbook-memory.js BASELINE.json [DIST]
// DIST: another build's dist/ (e.g. the one before a change); default this one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [file, dist] = process.argv.slice(2);
if (!file) throw new Error('usage: playbook-memory BASELINE.json [DIST]');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const from = (m: string) =>
  dist === undefined ? `../src/${m}` : pathToFileURL(path.resolve(dist, 'src', m)).href;
const { BlockGuard } = (await import(
  from('respond/playbook-guard.js')
)) as typeof import('../src/respond/playbook-guard.js');
const { CompiledBaseline } = (await import(
  from('detect/profile.js')
)) as typeof import('../src/detect/profile.js');
const text = readFileSync(file, 'utf8');
const heap = (): number => {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
};
// Built in functions, so no interpreter register keeps the parsed document alive after they return.
const engineOnly = () => new CompiledBaseline(JSON.parse(text));
function withPlaybooks(): unknown[] {
  const parsed = JSON.parse(text);
  const engine = new CompiledBaseline(parsed);
  const guard = new BlockGuard(parsed, []);
  // Before: the runner kept the parsed baseline (its assets, and the guard's lists point into it).
  return dist === undefined ? [engine, guard, new Set(parsed.assets)] : [engine, guard, parsed];
}
const h0 = heap();
const e = engineOnly();
const h1 = heap();
const kept = withPlaybooks();
const h2 = heap();
const mib = (n: number) => (n / 2 ** 20).toFixed(2);
process.stdout.write(
  `${JSON.stringify({ engine_mib: mib(h1 - h0), engine_and_playbooks_mib: mib(h2 - h1), edges: e.servers.length, kept: kept.length })}\n`,
);
