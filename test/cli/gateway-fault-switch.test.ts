import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { weir } from '../helpers/weir-cli.js';

// `--inject-fault` makes every PDU pass uninspected. Left reachable on the production command, one line in
// /etc/default/weir (WEIR_GATEWAY_ARGS) would turn inspection off for good, seen only in the gateway's own log.
test('weir gateway refuses --inject-fault unless the test switch is set in its environment', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-fault-switch-'));
  try {
    const r = await weir(
      ['gateway', '--state-dir', dir, '--listen', '127.0.0.1', '--inject-fault', 'throw'],
      { env: { WEIR_TEST_FAULTS: '' }, timeoutMs: 20_000 },
    );
    assert.notEqual(r.code, 0, 'the gateway must not start with inspection faked off');
    assert.match(r.stderr, /--inject-fault is a test switch/);
    assert.doesNotMatch(r.stdout + r.stderr, /gateway_started/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weir gateway --help does not offer --inject-fault', async () => {
  const r = await weir(['gateway', '--help']);
  assert.equal(r.code, 0);
  assert.doesNotMatch(r.stdout, /inject-fault/);
});
