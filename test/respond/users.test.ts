import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { addUser } from '../../src/store/change-store.js';
import { listAudit } from '../../src/store/audit-store.js';
import { ChangeRefused } from '../../src/respond/change-control.js';
import { NotFound } from '../../src/respond/detection-actions.js';
import { addPerson, changeRoles, removePerson } from '../../src/respond/users.js';

test('a change to people is written with its audit entry, or not at all', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-users-'));
  const db = openStore(path.join(dir, 'weir.db'));
  try {
    addUser(db, 'root', ['admin']);
    // From now on every audit append fails, as a full disk or a broken key would make it.
    db.exec(
      "CREATE TEMP TRIGGER audit_fails BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    assert.throws(
      () => addPerson(db, { actor: 'root', name: 'ana', roles: ['analyst'], passwordHash: 'x' }),
      /disk full/,
    );
    assert.throws(
      () => changeRoles(db, { actor: 'root', name: 'root', roles: ['admin', 'security'] }),
      /disk full/,
    );
    db.exec('DROP TRIGGER temp.audit_fails');
    assert.deepEqual(
      db.prepare('SELECT name, roles FROM users').all(),
      [{ name: 'root', roles: '["admin"]' }],
      'nothing changed',
    );
    addPerson(db, { actor: 'root', name: 'ana', roles: ['analyst'], passwordHash: 'x' });
    assert.throws(
      () => addPerson(db, { actor: 'root', name: 'ana', roles: ['viewer'], passwordHash: 'x' }),
      (e) => e instanceof ChangeRefused && /exists already/.test(e.message),
    );
    assert.throws(
      () => removePerson(db, { actor: 'root', name: 'root' }),
      (e) => e instanceof ChangeRefused && /yourself/.test(e.message),
    );
    assert.throws(
      () => removePerson(db, { actor: 'root', name: 'nobody' }),
      (e) => e instanceof NotFound,
    );
    removePerson(db, { actor: 'root', name: 'ana' });
    assert.deepEqual(
      listAudit(db).map((e) => `${e.actor} ${e.action} ${e.subject}`),
      ['root user.added ana', 'root user.removed ana'],
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
