// The manager's permit and site commands through the real CLI against a running `weir manager run`: a fleet
// permit needs a proven person allowed to enforce and is audited with its scope; a site is admitted and
// removed without restarting the hub.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { cli, person, weir } from '../helpers/weir-cli.js';
import { freePort, tempDir, until } from './fleet-kit.js';

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGTERM');
});

const auditRows = (
  db: string,
  action: string | null,
): Array<{ actor: string; subject: string; details: string }> => {
  const d = new Database(db, { readonly: true });
  try {
    return d
      .prepare(
        `SELECT actor, subject, details FROM audit_log${action === null ? '' : ' WHERE action = ?'} ORDER BY seq`,
      )
      .all(...(action === null ? [] : [action])) as Array<{
      actor: string;
      subject: string;
      details: string;
    }>;
  } finally {
    d.close();
  }
};

const audit = (db: string, action: string): Array<{ actor: string; details: string }> => {
  const d = new Database(db, { readonly: true });
  try {
    return d
      .prepare('SELECT actor, details FROM audit_log WHERE action = ? ORDER BY seq')
      .all(action) as Array<{ actor: string; details: string }>;
  } finally {
    d.close();
  }
};

test('manager permit grant/revoke: a proven enforcer, audited, scoped; site add/remove on the running hub', async () => {
  const dir = tempDir('fleet-mcli');
  const mdir = path.join(dir, 'manager');
  assert.equal((await weir(['manager', 'init', '--dir', mdir])).code, 0);
  const db = path.join(dir, 'weir.db');
  const admin = await person(db, dir, 'root', ['admin'], { admin: '' });
  const viewer = await person(db, dir, 'vera', ['viewer'], { admin });
  const addSite = (name: string, auth: string[]) =>
    weir(['manager', 'site', 'add', name, '--dir', mdir, ...auth]);

  // Admitting a site is an enforcement action: a proven person allowed to enforce, audited.
  const anon = await addSite('a', []);
  assert.notEqual(anon.code, 0, 'adding a site needs a proven person');
  assert.match(anon.stderr, /needs --db STORE/);
  const byViewer = await addSite('a', ['--db', db, '--token-file', viewer]);
  assert.notEqual(byViewer.code, 0, 'a viewer may not add a site');
  assert.ok(!existsSync(path.join(mdir, 'sites', 'a')), 'no kit made for a refused add');
  const before = await addSite('a', ['--db', db, '--token-file', admin]);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, /admitted when manager run starts/);
  const added = auditRows(db, 'fleet.site.add');
  assert.equal(added.length, 1);
  assert.equal(added[0]!.actor, 'root');
  assert.equal(added[0]!.subject, 'a');
  assert.deepEqual(JSON.parse(added[0]!.details), { generation: 1 });
  const key = readFileSync(path.join(mdir, 'sites', 'a', 'site.key'), 'utf8');
  const all = JSON.stringify(auditRows(db, null));
  assert.ok(!/PRIVATE KEY|BEGIN/.test(all), 'no key material in the audit log');
  assert.ok(!all.includes(key.split('\n')[1]!), "the site's key is not in the audit log");
  const monitor = await freePort();
  const run = spawn(
    process.execPath,
    [cli, 'manager', 'run', '--dir', mdir, '--listen', `127.0.0.1:${await freePort()}`].concat([
      '--leaf',
      `127.0.0.1:${await freePort()}`,
      '--monitor',
      String(monitor),
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(run);
  let err = '';
  run.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await until('manager ready', () => /ready/.test(err));

  const scope = ['--client', '10.70.0.100', '--server', '10.70.0.5', '--zone', 'cell']
    .concat(['--protocol', 'modbus', '--function', 'read_holding_registers'])
    .concat(['--registers', 'holding_register:100-109', '--ttl', '30m', '--reason', 'vendor']);
  const grant = (auth: string[], more: string[] = []) =>
    weir(['manager', 'permit', 'grant', '--dir', mdir, ...auth, ...scope, ...more]);

  const nobody = await grant([]);
  assert.notEqual(nobody.code, 0);
  assert.match(nobody.stderr, /needs --db STORE/);
  const looker = await grant(['--db', db, '--token-file', viewer]);
  assert.notEqual(looker.code, 0, 'a viewer may not grant');
  const tooLong = await grant(['--db', db, '--token-file', admin], ['--ttl', '13h']);
  assert.notEqual(tooLong.code, 0);
  assert.match(tooLong.stderr, /at most 12 h/);
  assert.equal(audit(db, 'fleet.permit.grant.failed').length, 1, 'the refused grant is audited');

  const ok = await grant(['--db', db, '--token-file', admin]);
  assert.equal(ok.code, 0, ok.stderr);
  const m =
    /^permit ([0-9a-f]+): 10\.70\.0\.100 → 10\.70\.0\.5 modbus tcp\/502 for 1800s at every site \(permits v1\)/.exec(
      ok.stdout,
    );
  assert.ok(m, ok.stdout);
  const rows = audit(db, 'fleet.permit.grant');
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.actor, 'root');
  assert.match(rows[0]!.details, /holding_register:100-109/);
  const rev = await weir([
    'manager',
    'permit',
    'revoke',
    m[1]!,
    '--dir',
    mdir,
    '--db',
    db,
    '--token-file',
    admin,
  ]);
  assert.equal(rev.code, 0, rev.stderr);
  assert.match(rev.stdout, /revoked at every site \(permits v2\)/);
  assert.equal(audit(db, 'fleet.permit.revoke').length, 1);

  // A site admitted and removed on the running hub: no restart.
  const add = await addSite('b', ['--db', db, '--token-file', admin]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /admitted by the running hub/);
  const noAuth = await weir(['manager', 'site', 'remove', 'b', '--dir', mdir]);
  assert.notEqual(noAuth.code, 0, 'removing a site needs a proven person');
  const rm = await weir([
    'manager',
    'site',
    'remove',
    'b',
    '--dir',
    mdir,
    '--db',
    db,
    '--token-file',
    admin,
  ]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /site b removed: refused by the running hub/);
  assert.equal(audit(db, 'fleet.site.remove').length, 1);
  // Enrolled again: a new generation, audited as such.
  const again = await addSite('b', ['--db', db, '--token-file', admin]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    auditRows(db, 'fleet.site.add').map((r) => [r.subject, JSON.parse(r.details)]),
    [
      ['a', { generation: 1 }],
      ['b', { generation: 1 }],
      ['b', { generation: 2 }],
    ],
  );
  assert.equal(run.exitCode, null, 'manager run kept running throughout');
});
