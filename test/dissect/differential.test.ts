// Differential test: Weir's dissectors against tshark, frame by frame, on every real capture we have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  loadSpecs,
  multisetMatch,
  ORACLE_OPTIONS,
  tsharkFuncs,
  weirFuncs,
} from './tshark-compare.js';
import { ERRATA } from './oracle/tshark-errata.js';
import { fixtureCaptures, sharedCaptures, testOutput } from '../helpers/paths.js';

test('every ICS protocol agrees with tshark on ≥99.9% of messages, per capture and protocol', async (t) => {
  const shared = sharedCaptures();
  if (shared === null) {
    t.skip('../shared/pcaps not present');
    return;
  }
  const files = [...shared, ...fixtureCaptures()];
  const specs = await loadSpecs();
  assert.ok(
    specs.length >= 8,
    `expected oracle specs for the ICS protocols, found ${specs.length}`,
  );
  const totals = new Map<string, { total: number; agreed: number }>();
  const disagreements: string[] = [];
  const errata: string[] = [];
  const report: string[] = [];
  for (const file of files) {
    const ours = await weirFuncs(file);
    for (const spec of specs) {
      const theirs = await tsharkFuncs(file, spec);
      const frames = new Set<number>(theirs.keys());
      for (const k of ours.keys()) {
        const [f, p] = k.split('|');
        if (p === spec.protocol) frames.add(Number(f));
      }
      if (frames.size === 0) continue;
      let total = 0,
        agreed = 0;
      for (const f of [...frames].sort((a, b) => a - b)) {
        const w = ours.get(`${f}|${spec.protocol}`) ?? [];
        const s = theirs.get(f) ?? [];
        const erratum = ERRATA.find(
          (e) => e.file === path.basename(file) && e.frame === f && e.protocol === spec.protocol,
        );
        if (erratum) {
          // A known tshark error: Weir must give exactly the hand-checked answer.
          assert.deepEqual(w, erratum.weir, `${erratum.file} frame ${f}: ${erratum.why}`);
          errata.push(
            `${erratum.file} frame ${f} ${spec.protocol}: weir [${w.join(',')}] tshark [${s.join(',')}] — ${erratum.why}`,
          );
          total += w.length;
          agreed += w.length;
          continue;
        }
        const m = multisetMatch(w, s);
        total += Math.max(w.length, s.length);
        agreed += m;
        if (m !== Math.max(w.length, s.length))
          disagreements.push(
            `${path.basename(file)} frame ${f} ${spec.protocol}: weir [${w.join(',')}] tshark [${s.join(',')}]`,
          );
      }
      const tt = totals.get(spec.protocol) ?? { total: 0, agreed: 0 };
      tt.total += total;
      tt.agreed += agreed;
      totals.set(spec.protocol, tt);
      report.push(`${path.basename(file)}\t${spec.protocol}\t${agreed}/${total}`);
    }
  }
  mkdirSync(testOutput, { recursive: true });
  writeFileSync(
    path.join(testOutput, 'differential.txt'),
    [
      ...report,
      '',
      'tshark oracle options:',
      ...ORACLE_OPTIONS.map((o) => `${o.args.join(' ')} — ${o.why}`),
      '',
      'disagreements:',
      ...disagreements,
      '',
      'tshark errata (Weir checked against hand-decoded bytes):',
      ...errata,
    ].join('\n') + '\n',
  );
  const summary = [...totals].map(
    ([p, v]) =>
      `${p}: ${v.agreed}/${v.total} (${((100 * v.agreed) / Math.max(1, v.total)).toFixed(2)}%)`,
  );
  t.diagnostic(summary.join('; '));
  for (const [p, v] of totals) {
    assert.ok(v.total > 0, `${p}: no messages compared`);
    assert.ok(
      v.agreed / v.total >= 0.999,
      `${p}: ${v.agreed}/${v.total} agree with tshark; first disagreements:\n${disagreements
        .filter((d) => d.includes(` ${p}:`))
        .slice(0, 15)
        .join('\n')}`,
    );
  }
});
