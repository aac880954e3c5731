// Review 14, L1: what a portal visitor types is a claim. The audit's actor is who we know (the address the
// request came from) until the directory vouches for the person; the claimed name is kept escaped, and no
// table the CLI prints passes a terminal escape or a bidi mark through to an admin's screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { PermitService } from '../../src/permit/service.js';
import type { EnforcementBackend, PermitFlow } from '../../src/enforce/backend.js';
import { openStore } from '../../src/store/db.js';
import { appendAudit, listAudit } from '../../src/store/audit-store.js';
import { renderColumns } from '../../src/cli/columns.js';
import { weir } from '../helpers/weir-cli.js';

const POLICY = `weir: policy/1
zones:
  - { name: eng, members: [10.0.0.0/28] }
  - { name: ctl, members: [10.0.0.21], mode: enforce }
permit_templates:
  - { name: m, directory_groups: [g], zone: ctl, servers: [10.0.0.21], protocol: modbus, functions: [3], max_ttl: 2h }
`;
const FORGE = 'x\u001b[2K\u001b[1A\u001b[2K\rseq 3 all good\u202e';
/** Any C0/C1 control or bidi mark, as a terminal or the dashboard would act on it. */
const RAW = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

test('a refused portal request is audited under the address it came from, the claimed name escaped', async () => {
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-l1-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    const service = new PermitService({
      policy: r.policy,
      directory: {
        kind: 'ldap',
        verify: async (user: string) =>
          user === 'alice'
            ? { ok: true as const, user, groups: ['g'] }
            : { ok: false as const, reason: 'bad_credentials' as const, detail: 'no' },
      },
      backend: {
        permit: async (flow: PermitFlow, ttl: number) => ({
          flow,
          ttlSeconds: ttl,
          until: 0,
          comment: '',
        }),
        revokePermit: async () => undefined,
      } as unknown as EnforcementBackend,
      audit: (e) => appendAudit(db, e),
    });
    const ask = (user: string, template: string) =>
      service.request({
        user,
        password: 'p',
        client: '10.0.0.5',
        template,
        via: 'portal 10.0.0.5',
      });
    for (const template of ['no-such-template', 'm', `m${FORGE}`]) {
      assert.equal((await ask(FORGE, template)).ok, false);
      const e = listAudit(db).at(-1)!;
      assert.equal(e.action, 'permit.refused');
      assert.equal(e.actor, 'portal:10.0.0.5', 'the actor is who we know, not the claim');
      assert.ok(!RAW.test(JSON.stringify(e) + e.actor + e.subject), JSON.stringify(e));
      assert.ok(String(e.details.user).startsWith('x\\u001b[2K'), 'the claim is kept, escaped');
    }
    // Once the directory vouches for the person, they are the actor.
    assert.ok((await ask('alice', 'm')).ok);
    assert.equal(listAudit(db).at(-1)!.actor, 'ldap:alice');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI tables escape control characters and bidi marks in every cell', async () => {
  const out = renderColumns(['actor', 'details'], [[FORGE, `{"user":"${FORGE}"}`]], 2, null);
  assert.ok(!RAW.test(out.replaceAll('\n', '')), JSON.stringify(out));
  assert.match(out, /x\\u001b\[2K/);
  // An entry an older Weir wrote with the raw name: `weir policy audit` shows it escaped.
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-l1-'));
  try {
    const file = path.join(dir, 'weir.db');
    const db = openStore(file);
    const r = {
      at: new Date().toISOString(),
      actor: `ldap:${FORGE}`,
      action: 'permit.refused',
      subject: '10.0.0.5 m',
      details: '{}',
    };
    const hash = createHash('sha256')
      .update(JSON.stringify(['', r.at, r.actor, r.action, r.subject, null, r.details]))
      .digest('hex');
    db.prepare(
      'INSERT INTO audit_log (at, actor, action, subject, simulation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)',
    ).run(r.at, r.actor, r.action, r.subject, r.details, '', hash);
    db.close();
    const shown = await weir(['policy', 'audit', '--db', file]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /ldap:x\\u001b\[2K/);
    assert.ok(!RAW.test(shown.stdout.replaceAll('\n', '')), JSON.stringify(shown.stdout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
