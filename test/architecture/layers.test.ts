// The shape of src/: no import cycles, and no folder importing one above it. Reads the sources, not dist,
// so type-only imports count too: a cycle of types is still two files that cannot be read one at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

/**
 * The layer of each folder of src/, lowest first; a file may import its own folder and lower layers only.
 * Folders on one rank are peers that do not import each other.
 *
 * - capture < dissect < discover < detect < policy: the data flow of DESIGN.md, pure engines (discover also
 *   folds packets into the per-zone traffic series).
 * - store persists what the engines produce (inventory, baseline, detections, traffic rows), so it imports
 *   their types and sits above them; respond is the first layer that changes state through it.
 * - enforce compiles and runs the policy.
 * - assess (risk, vulnerabilities, compliance, drift), deceive and export read what the layers below produced
 *   and keep their results in the store; they are peers.
 * - fleet, server and cli wire the parts together; the CLI also starts the server (`weir serve`).
 */
const LAYERS: readonly (readonly string[])[] = [
  // Pure schema and defaults of weir.yaml: every engine may take its defaults from here.
  ['settings'],
  ['capture'],
  ['dissect'],
  ['discover'],
  ['detect'],
  ['policy'],
  ['store'],
  ['respond'],
  ['enforce'],
  ['assess', 'deceive', 'export', 'permit'],
  ['fleet'],
  ['server'],
  ['cli'],
];

/**
 * Known exceptions, each with why and what would remove it. Keep this short: a new entry is a design decision.
 */
const ALLOWED_UPWARD: ReadonlyMap<string, string> = new Map([
  [
    'src/store/advisory-store.ts -> src/assess/advisories/csaf.ts',
    'type only: the store keeps parsed CSAF advisories; moving the Advisory model below store removes it',
  ],
]);

const src = path.join(repoRoot, 'src');
const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = path.join(dir, n);
      if (statSync(p).isDirectory()) return sources(p);
      return /\.tsx?$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
    });
}

/** Relative imports and re-exports of one file (static, type-only and dynamic), as source paths. */
function importsOf(file: string, text: string): string[] {
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

const folderOf = (file: string): string => path.relative(src, file).split(path.sep)[0]!;
const rel = (file: string): string => path.relative(repoRoot, file);

const graph = new Map<string, string[]>(
  sources(src).map((f) => [f, importsOf(f, readFileSync(f, 'utf8'))]),
);

test('the import scanner sees every form of import', () => {
  const got = importsOf(
    '/r/src/a/x.ts',
    [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      'import {\n  c,\n  d,\n} from "./c.js";',
      "export { e } from './e.js';",
      "export * from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "import fs from 'node:fs';",
    ].join('\n'),
  );
  assert.deepEqual(
    got.map((p) => path.relative('/r/src', p)),
    ['a/a.ts', 'b/b.ts', 'a/c.ts', 'a/e.ts', 'a/f.ts', 'a/g.ts', 'a/h.ts'],
  );
});

test('every folder of src/ has a layer', () => {
  const folders = readdirSync(src).filter((n) => statSync(path.join(src, n)).isDirectory());
  const unplaced = folders.filter((f) => !rank.has(f));
  assert.deepEqual(unplaced, [], 'add these folders to LAYERS in test/architecture/layers.test.ts');
});

test('every relative import names a file that exists', () => {
  const dangling = [...graph].flatMap(([f, deps]) =>
    deps.filter((d) => !graph.has(d)).map((d) => `${rel(f)} -> ${rel(d)}`),
  );
  assert.deepEqual(dangling, []);
});

test('no folder of src/ imports a higher one, nor a peer on its own rank', () => {
  const upward: string[] = [];
  const excused = new Set<string>();
  for (const [file, deps] of graph) {
    const from = folderOf(file);
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to === from || !rank.has(from) || !rank.has(to)) continue;
      const edge = `${rel(file)} -> ${rel(dep)}`;
      if (rank.get(to)! < rank.get(from)!) continue;
      if (ALLOWED_UPWARD.has(edge)) excused.add(edge);
      else upward.push(edge);
    }
  }
  assert.deepEqual(upward, [], 'lower layers never import higher ones (see LAYERS)');
  const stale = [...ALLOWED_UPWARD.keys()].filter((e) => !excused.has(e));
  assert.deepEqual(
    stale,
    [],
    'these exceptions are no longer needed: remove them from ALLOWED_UPWARD',
  );
});

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's algorithm. */
function cycles(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) found.push(scc.map(rel).sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the cycle finder finds a cycle', () => {
  const g = new Map([
    ['/r/a.ts', ['/r/b.ts']],
    ['/r/b.ts', ['/r/c.ts']],
    ['/r/c.ts', ['/r/a.ts']],
    ['/r/d.ts', ['/r/a.ts']],
  ]);
  assert.equal(cycles(g).length, 1);
  assert.equal(cycles(g)[0]!.length, 3);
});

test('no import cycles in src/', () => {
  assert.deepEqual(cycles(graph), [], 'files that import each other, directly or round a loop');
});

/**
 * One seam for enforcement: outside src/enforce, the kernel is reached through the `EnforcementBackend`
 * contract (enforce/backend.ts), never through the nftables modules under it; respond/ sees only the narrow
 * `PlaybookKernel` (respond/playbook-kernel.ts) that the backend extends.
 */
test('outside enforce/, nothing reaches nftables but through the enforcement backend', () => {
  const below = ['nft.ts', 'nft-session.ts', 'nft-ruleset.ts', 'apply.ts'].map((f) =>
    path.join(src, 'enforce', f),
  );
  const offenders: string[] = [];
  for (const [file, imports] of graph) {
    if (folderOf(file) === 'enforce') continue;
    for (const to of imports)
      if (below.includes(to) && !/^\s*import type\b/m.test(lineOf(file, to)))
        offenders.push(`${rel(file)} -> ${rel(to)}`);
  }
  assert.deepEqual(offenders, [], 'call the EnforcementBackend (cli/enforcement.ts picks it)');
  const kernelSide = readFileSync(path.join(src, 'enforce', 'backend.ts'), 'utf8');
  assert.match(kernelSide, /interface EnforcementBackend extends PlaybookKernel\b/);
});

/** The import line of `file` that names `to` (for telling type-only imports apart). */
function lineOf(file: string, to: string): string {
  const base = path.basename(to).replace(/\.ts$/, '.js');
  return (
    readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.includes(`/${base}'`)) ?? ''
  );
}
