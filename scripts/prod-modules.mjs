// Lists the package folders (relative to the project) that the production dependencies need at run time:
// package.json's dependencies and, transitively, theirs (optional ones when installed), resolved the way
// Node does (nested node_modules first, then each parent's). For the Debian package: no dev tools, no network.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? '.');
const seen = new Set();
const manifest = (dir) => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));

function resolve(from, name) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const cand = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(cand, 'package.json'))) return cand;
    if (dir === root || dir === path.dirname(dir)) return null;
  }
}

function visit(dir, optional) {
  const m = manifest(dir);
  const deps = [
    ...Object.keys(m.dependencies ?? {}).map((n) => [n, false]),
    ...Object.keys(m.optionalDependencies ?? {}).map((n) => [n, true]),
  ];
  for (const [name, opt] of deps) {
    const found = resolve(dir, name);
    if (found === null) {
      if (opt || optional) continue;
      console.error(
        `prod-modules: ${name} (needed by ${path.relative(root, dir) || 'weir'}) is not installed`,
      );
      process.exit(1);
    }
    const rel = path.relative(root, found);
    if (seen.has(rel)) continue;
    seen.add(rel);
    visit(found, opt);
  }
}

visit(root, false);
for (const p of [...seen].sort()) console.log(p);
