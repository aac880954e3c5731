import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { policyText } from '../helpers/plant-fixtures.js';
import { person, weir } from '../helpers/weir-cli.js';
import { activate } from '../helpers/approved-store.js';

// The review's F10: a direct permit goes around the groups and the gateway, so it is short by rule: the site's
// enforce.max_permit_s, never beyond the 12 h of any permit. Refused before anything reaches the kernel.
test('weir permit: no longer than the site allows, refused and audited beyond it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-permit-ttl-'));
  try {
    const db = path.join(dir, 'weir.db');
    const root = await person(db, dir, 'root', ['admin'], { admin: '' });
    const otto = await person(db, dir, 'otto', ['operations'], { admin: root });
    activate(db, policyText('simulate'));
    const permit = (ttl: string, env: Record<string, string> = {}) =>
      weir(
        [
          'permit',
          '10.9.0.66',
          '10.77.0.21',
          'tcp/502',
          '--ttl',
          ttl,
          '--db',
          db,
          '--token-file',
          otto,
          '--netns',
          'weir-no-such-ns-permit-ttl',
        ],
        { env },
      );
    let r = await permit('52w');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /a direct permit lasts at most 4 h here \(settings enforce\.max_permit_s\), not 52 w: longer access is a context group to approve \(weir policy submit\)/,
    );
    const config = path.join(dir, 'weir.yaml');
    writeFileSync(config, 'weir: settings/1\nenforce:\n  max_permit_s: 600\n');
    r = await permit('20m', { WEIR_CONFIG: config });
    assert.match(r.stderr, /at most 10 min here/);
    writeFileSync(config, 'weir: settings/1\nenforce:\n  max_permit_s: 86400\n');
    r = await permit('30m', { WEIR_CONFIG: config });
    assert.match(
      r.stderr,
      /max_permit_s/,
      'a site cannot raise the cap beyond the 12 h of any permit',
    );
    const d = openStore(db);
    try {
      const refused = listAudit(d).filter((e) => e.action === 'flow.permit_refused');
      assert.deepEqual(
        refused.map((e) => [e.actor, e.subject, e.details.ttl_s, e.details.max_permit_s]),
        [
          ['otto', '10.9.0.66 → 10.77.0.21 tcp/502', 31_449_600, 14_400],
          ['otto', '10.9.0.66 → 10.77.0.21 tcp/502', 1200, 600],
        ],
      );
    } finally {
      d.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
