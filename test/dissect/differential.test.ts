// Differential test: Weir's dissectors against tshark, frame by frame, on every real capture we have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { OracleSpec } from './oracle/spec.js';
import { ERRATA } from './oracle/tshark-errata.js';
import { fixtureCaptures, sharedCaptures, testOutput } from '../helpers/paths.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

async function loadSpecs(): Promise<OracleSpec[]> {
  const dir = path.join(here, 'oracle');
  const specs: OracleSpec[] = [];
  for (const n of readdirSync(dir).sort()) {
    if (!n.endsWith('.js') || ['spec.js', 'values.js', 'tshark-errata.js'].includes(n)) continue;
    const mod = (await import(path.join(dir, n))) as { default?: OracleSpec | OracleSpec[] };
    if (mod.default) specs.push(...(Array.isArray(mod.default) ? mod.default : [mod.default]));
  }
  return specs;
}

/** Weir's function codes per frame and protocol. */
async function weirFuncs(file: string): Promise<Map<string, number[]>> {
  const byKey = new Map<string, number[]>();
  const p = new DissectPipeline({
    onMessage(m) {
      if (m.func < 0) return; // PDUs without a function code (COTP-only, S/U frames, I/O data) have nothing to compare
      const k = `${m.frame}|${m.protocol}`;
      const l = byKey.get(k);
      if (l) l.push(m.func); else byKey.set(k, [m.func]);
    },
  });
  await readCapture(file, (f) => p.push(f));
  return byKey;
}

async function tsharkFuncs(file: string, spec: OracleSpec): Promise<Map<number, number[]>> {
  const args = ['-r', file, '-n', ...(spec.tsharkArgs ?? []), '-Y', spec.filter, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', ...spec.fields.flatMap((f) => ['-e', f])];
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 28 });
  const out = new Map<number, number[]>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [frame, ...values] = line.split('\t');
    const funcs = spec.funcs(values);
    if (funcs.length) out.set(Number(frame), funcs);
  }
  return out;
}

function multisetMatch(a: number[], b: number[]): number {
  const left = [...b];
  let n = 0;
  for (const x of a) {
    const i = left.indexOf(x);
    if (i >= 0) { left.splice(i, 1); n++; }
  }
  return n;
}

test('every ICS protocol agrees with tshark on ≥99.9% of messages, per capture and protocol', async (t) => {
  const shared = sharedCaptures();
  if (shared === null) { t.skip('../shared/pcaps not present'); return; }
  const files = [...shared, ...fixtureCaptures()];
  const specs = await loadSpecs();
  assert.ok(specs.length >= 8, `expected oracle specs for the ICS protocols, found ${specs.length}`);
  const totals = new Map<string, { total: number; agreed: number }>();
  const disagreements: string[] = [];
  const errata: string[] = [];
  const report: string[] = [];
  for (const file of files) {
    const ours = await weirFuncs(file);
    for (const spec of specs) {
      const theirs = await tsharkFuncs(file, spec);
      const frames = new Set<number>(theirs.keys());
      for (const k of ours.keys()) { const [f, p] = k.split('|'); if (p === spec.protocol) frames.add(Number(f)); }
      if (frames.size === 0) continue;
      let total = 0, agreed = 0;
      for (const f of [...frames].sort((a, b) => a - b)) {
        const w = ours.get(`${f}|${spec.protocol}`) ?? [];
        const s = theirs.get(f) ?? [];
        const erratum = ERRATA.find((e) => e.file === path.basename(file) && e.frame === f && e.protocol === spec.protocol);
        if (erratum) {
          // A known tshark error: Weir must give exactly the hand-checked answer.
          assert.deepEqual(w, erratum.weir, `${erratum.file} frame ${f}: ${erratum.why}`);
          errata.push(`${erratum.file} frame ${f} ${spec.protocol}: weir [${w.join(',')}] tshark [${s.join(',')}] — ${erratum.why}`);
          total += w.length; agreed += w.length;
          continue;
        }
        const m = multisetMatch(w, s);
        total += Math.max(w.length, s.length);
        agreed += m;
        if (m !== Math.max(w.length, s.length)) disagreements.push(`${path.basename(file)} frame ${f} ${spec.protocol}: weir [${w.join(',')}] tshark [${s.join(',')}]`);
      }
      const tt = totals.get(spec.protocol) ?? { total: 0, agreed: 0 };
      tt.total += total; tt.agreed += agreed;
      totals.set(spec.protocol, tt);
      report.push(`${path.basename(file)}\t${spec.protocol}\t${agreed}/${total}`);
    }
  }
  mkdirSync(testOutput, { recursive: true });
  writeFileSync(path.join(testOutput, 'differential.txt'), [...report, '', 'disagreements:', ...disagreements, '', 'tshark errata (Weir checked against hand-decoded bytes):', ...errata].join('\n') + '\n');
  const summary = [...totals].map(([p, v]) => `${p}: ${v.agreed}/${v.total} (${((100 * v.agreed) / Math.max(1, v.total)).toFixed(2)}%)`);
  t.diagnostic(summary.join('; '));
  for (const [p, v] of totals) {
    assert.ok(v.total > 0, `${p}: no messages compared`);
    assert.ok(v.agreed / v.total >= 0.999, `${p}: ${v.agreed}/${v.total} agree with tshark; first disagreements:\n${disagreements.filter((d) => d.includes(` ${p}:`)).slice(0, 15).join('\n')}`);
  }
});
