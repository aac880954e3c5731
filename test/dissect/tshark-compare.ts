// Frame-by-frame comparison of Weir's function codes with tshark's (the dissection oracle).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { OracleSpec } from './oracle/spec.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * tshark options every oracle run takes, each with the reason, so tshark dissects what is on the wire rather than
 * what a port guess says. They are printed in the differential report.
 */
export const ORACLE_OPTIONS: { args: string[]; why: string }[] = [
  {
    args: ['--disable-protocol', 'idmp'],
    why:
      'tshark 4.0 tries the lower TCP port first, and registers X.500 IDMP on 1102, an ephemeral Windows client port: ' +
      'the ENIP session 192.168.10.105:1102 → :44818 of openics__EIP-ControlProtocolChangeAttempt.pcap would be read as IDMP',
  },
];
const oracleArgs = ORACLE_OPTIONS.flatMap((o) => o.args);

export async function loadSpecs(): Promise<OracleSpec[]> {
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
export async function weirFuncs(file: string): Promise<Map<string, number[]>> {
  const byKey = new Map<string, number[]>();
  const p = new DissectPipeline({
    onMessage(m) {
      if (m.func < 0) return; // PDUs without a function code (COTP-only, S/U frames, I/O data) have nothing to compare
      const k = `${m.frame}|${m.protocol}`;
      const l = byKey.get(k);
      if (l) l.push(m.func);
      else byKey.set(k, [m.func]);
    },
  });
  await readCapture(file, (f) => p.push(f));
  return byKey;
}

/** tshark's function codes per frame for one protocol's oracle spec. */
export async function tsharkFuncs(file: string, spec: OracleSpec): Promise<Map<number, number[]>> {
  const args = [
    '-r',
    file,
    '-n',
    ...oracleArgs,
    ...(spec.tsharkArgs ?? []),
    '-Y',
    spec.filter,
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=,',
    '-e',
    'frame.number',
    ...spec.fields.flatMap((f) => ['-e', f]),
  ];
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

/** How many of `a` are matched by distinct elements of `b`. */
export function multisetMatch(a: number[], b: number[]): number {
  const left = [...b];
  let n = 0;
  for (const x of a) {
    const i = left.indexOf(x);
    if (i >= 0) {
      left.splice(i, 1);
      n++;
    }
  }
  return n;
}

/**
 * One protocol's function codes, frame by frame, Weir against tshark: every frame either side has a message
 * in, how many messages were compared and agreed, and a line for each frame that differs.
 */
export function compareFuncs(
  ours: Map<string, number[]>,
  theirs: Map<number, number[]>,
  protocol: string,
): { total: number; agreed: number; diff: string[] } {
  const frames = new Set(theirs.keys());
  const suffix = `|${protocol}`;
  for (const k of ours.keys()) if (k.endsWith(suffix)) frames.add(Number(k.split('|')[0]));
  let total = 0,
    agreed = 0;
  const diff: string[] = [];
  for (const f of frames) {
    const w = ours.get(`${f}${suffix}`) ?? [],
      s = theirs.get(f) ?? [];
    const m = multisetMatch(w, s);
    total += Math.max(w.length, s.length);
    agreed += m;
    if (m !== Math.max(w.length, s.length)) diff.push(`frame ${f}: weir [${w}] tshark [${s}]`);
  }
  return { total, agreed, diff };
}
