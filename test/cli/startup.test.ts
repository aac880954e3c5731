import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { cli } from '../helpers/weir-cli.js';

test('`weir discover` without a terminal loads no progress bar code; its output is whole', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'weir-startup-'));
  try {
    const log = path.join(tmp, 'modules.log');
    const hooks = path.join(repoRoot, 'dist/test/helpers/module-log-register.js');
    const r = spawnSync(
      process.execPath,
      ['--import', hooks, cli, 'discover', path.join(repoRoot, 'fixtures/plant.pcap'), '--json'],
      { encoding: 'utf8', env: { ...process.env, WEIR_MODULE_LOG: log } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { assets: unknown[] }).assets.length > 0);
    const loaded = readFileSync(log, 'utf8');
    assert.ok(loaded.includes('/src/discover/inventory.js'), 'the log lists what was loaded');
    assert.ok(!loaded.includes('/node_modules/cli-progress/'), 'cli-progress loaded without a bar');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
