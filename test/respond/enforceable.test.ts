import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { savePolicyText, setActivePolicy } from '../../src/store/change-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes, ChangeRefused } from '../../src/respond/change-control.js';
import { enforceablePolicy } from '../../src/respond/enforceable.js';
import { policyText } from '../helpers/plant-fixtures.js';

const refused = (re: RegExp) => (e: unknown) => e instanceof ChangeRefused && re.test(e.message);

test('a policy file may observe, monitor or simulate; enforce mode only if it is the approved active policy', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-enforceable-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    for (const mode of ['observe', 'monitor', 'simulate']) {
      const r = enforceablePolicy(null, { text: policyText(mode), source: 'p.yaml' });
      assert.equal(r.source, 'file');
      assert.equal(r.policy.zones[1]!.mode, mode);
    }
    const enforcing = { text: policyText('enforce'), source: 'plant.yaml' };
    assert.throws(
      () => enforceablePolicy(null, enforcing),
      refused(
        /plant\.yaml: zone control is in enforce mode.*may only observe, monitor or simulate.*weir policy submit plant\.yaml.*weir policy apply/,
      ),
    );
    assert.throws(
      () => enforceablePolicy(db, enforcing),
      refused(/not the store's active policy \(none\)/),
    );
    assert.throws(() => enforceablePolicy(db, null), refused(/no active policy/));
    assert.throws(() => enforceablePolicy(null, null), refused(/--policy FILE or --db STORE/));

    // What approval leaves behind: the store's active policy. The same text (same sha256) may enforce.
    const p = (parsePolicy(enforcing.text, 'plant.yaml') as { ok: true; policy: never }).policy;
    const { sha, rulesSha } = policyHashes(p, enforcing.text);
    savePolicyText(db, { sha, rulesSha, source: 'plant.yaml', text: enforcing.text });
    setActivePolicy(db, sha, null);
    assert.deepEqual(enforceablePolicy(db, enforcing).source, 'active');
    assert.equal(enforceablePolicy(db, null).sha, sha);
    // One byte off is another policy.
    const edited = { text: `${enforcing.text}# tweak\n`, source: 'plant.yaml' };
    assert.throws(
      () => enforceablePolicy(db, edited),
      refused(
        new RegExp(
          `sha256 ${createHash('sha256').update(edited.text).digest('hex').slice(0, 12)}\\) is not the store's active policy \\(sha256 ${sha.slice(0, 12)}\\)`,
        ),
      ),
    );
    assert.throws(
      () => enforceablePolicy(db, { text: 'weir: policy/1\nzones: 7\n', source: 'bad.yaml' }),
      /bad\.yaml:2/,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
