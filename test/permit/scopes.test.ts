// The scoped-permit records the gateway reads: writers in several processes (the CLI, the server, the playbook
// runner) never lose each other's changes — a lost revocation would leave a withdrawn permit honoured — and the
// gateway's reader sees a revocation at its next look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addScope,
  readScopes,
  revokeScope,
  ScopeReader,
  type ScopedPermitRecord,
} from '../../src/enforce/permit-scopes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const scopesModule = path.resolve(here, '../../src/enforce/permit-scopes.js');

const rec = (client: string, until: number): ScopedPermitRecord => ({
  flow: { client, server: '10.0.0.21', transport: 'tcp', port: 502 },
  until,
  grantedAt: until - 60,
  user: 'alice',
  directory: 'ldap',
  template: 'plc-maint',
  group: {
    name: 'permit:plc-maint',
    clients: [client],
    servers: ['10.0.0.21'],
    transport: 'tcp',
    ports: [502],
    protocol: 'modbus',
    functions: [3],
    access: 'read-only',
  },
});

test('concurrent writers in separate processes keep every record', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-scopes-'));
  try {
    const now = Math.floor(Date.now() / 1000);
    const writer = (base: number) =>
      new Promise<void>((resolve, reject) => {
        const code = `const m = await import(${JSON.stringify(scopesModule)});
const rec = ${rec.toString()};
for (let i = 0; i < 40; i++) m.addScope(${JSON.stringify(dir)}, rec('10.1.${base}.' + i, ${now + 600}), ${now});`;
        const c = spawn(process.execPath, ['--input-type=module', '-e', code], {
          stdio: 'inherit',
        });
        c.on('exit', (x) => (x === 0 ? resolve() : reject(new Error(`writer exited ${x}`))));
      });
    await Promise.all([writer(1), writer(2), writer(3)]);
    assert.equal(readScopes(dir).length, 120);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the gateway reader honours a permit until it lapses or is revoked', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-scopes-'));
  try {
    let now = 1000;
    const reader = new ScopeReader(dir, () => now);
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 502), null);
    addScope(dir, rec('10.0.0.5', 1100), 1000);
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 502)?.user, 'alice');
    assert.equal(reader.find('10.0.0.6', '10.0.0.21', 502), null, 'another client');
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 503), null, 'another port');
    now = 1100;
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 502), null, 'lapsed');
    now = 1000;
    const r = revokeScope(dir, rec('10.0.0.5', 0).flow, 'write_new_range from 10.0.0.5', 1001);
    assert.equal(r?.revokeReason, 'write_new_range from 10.0.0.5');
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 502), null, 'revoked');
    assert.equal(revokeScope(dir, rec('10.0.0.5', 0).flow, 'again', 1002), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stepping the gateway host clock back does not keep an expired permit alive (review 12, L3)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-scopes-'));
  try {
    let wall = 1000,
      mono = 50;
    const reader = new ScopeReader(
      dir,
      () => wall,
      () => mono,
    );
    addScope(dir, rec('10.0.0.5', 1060), 1000);
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 502)?.user, 'alice', 'granted for 60 s');
    // 61 s pass; meanwhile a forged NTP answer steps the wall clock back by ten minutes.
    mono += 61;
    wall = 1061 - 600;
    assert.equal(reader.find('10.0.0.5', '10.0.0.21', 502), null, 'lapsed by the monotonic clock');
    // A reader that first sees a grant after the clock went back gives it no more than it was granted for.
    addScope(dir, rec('10.0.0.7', 1060), 400);
    let m = 0;
    const late = new ScopeReader(
      dir,
      () => 400,
      () => m,
    );
    assert.ok(late.find('10.0.0.7', '10.0.0.21', 502));
    m = 61;
    assert.equal(late.find('10.0.0.7', '10.0.0.21', 502), null, 'at most its 60 s');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
