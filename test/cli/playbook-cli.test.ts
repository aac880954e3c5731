import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { weir } from '../helpers/weir-cli.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { repoRoot } from '../helpers/paths.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

test('playbook CLI: acts on live traffic only, from the approved policy, by a proven person; lists and undoes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-pbcli-'));
  try {
    const db = detectedPlantStore(dir);
    const replay = await weir(['detect', plant, '--baseline', db, '--playbooks']);
    assert.notEqual(replay.code, 0);
    assert.match(replay.stderr, /playbooks act on live traffic only/);
    const file = await weir(['detect', '-', '--baseline', db, '--playbooks', '--policy', 'p.yaml']);
    assert.match(file.stderr, /playbooks come from the store's active policy/);
    const nobody = await weir(['detect', '-', '--baseline', db, '--playbooks']);
    assert.notEqual(nobody.code, 0);
    assert.match(nobody.stderr, /logged-in person/);
    const serve = await weir(['serve', '--db', db, '--capture', plant, '--playbooks']);
    assert.notEqual(serve.code, 0);
    assert.match(serve.stderr, /live traffic only/);
    assert.match((await weir(['playbook', 'actions', '--db', db])).stdout, /no playbook actions/);
    assert.equal((await weir(['playbook', 'actions', '--db', db, '--json'])).stdout.trim(), '[]');
    const undo = await weir(['playbook', 'undo', 'pa-000000000000', '--db', db]);
    assert.notEqual(undo.code, 0);
    assert.match(undo.stderr, /logged-in person/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
