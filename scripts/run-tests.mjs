// Runs every compiled test file explicitly (node --test on Node 20 does not discover .ts, and a run with
// no test must not pass silently).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d).sort()) {
    const p = path.join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.test.js')) files.push(p);
  }
};
walk(path.join(root, 'dist', 'test'));
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
console.log(`run-tests: ${selected.length} test files`);
// The enforcement host's runtime state (default /run/weir) is the machine's own: tests get a folder of theirs.
const stateDir = process.env.WEIR_STATE_DIR ?? mkdtempSync(path.join(tmpdir(), 'weir-test-state-'));
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...selected], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, WEIR_STATE_DIR: stateDir },
});
if (!process.env.WEIR_STATE_DIR) rmSync(stateDir, { recursive: true, force: true });
process.exit(r.status ?? 1);
