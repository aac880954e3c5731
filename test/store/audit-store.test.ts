import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStore, type Db } from '../../src/store/db.js';
import {
  appendAudit,
  checkAudit,
  reanchorAudit,
  verifyAudit,
} from '../../src/store/audit-store.js';

const sha = (
  prev: string,
  r: {
    at: string;
    actor: string;
    action: string;
    subject: string;
    sim: string | null;
    details: string;
  },
): string =>
  createHash('sha256')
    .update(JSON.stringify([prev, r.at, r.actor, r.action, r.subject, r.sim, r.details]))
    .digest('hex');

/** A store with `n` audited actions, closed; returns its path. */
function storeWith(dir: string, n: number): string {
  const file = path.join(dir, 'weir.db');
  const db = openStore(file);
  for (let i = 1; i <= n; i++)
    appendAudit(db, {
      actor: i % 2 ? 'alice' : 'bob',
      action: 'proposal.approved',
      subject: `proposal ${i}`,
      details: { role: 'security' },
    });
  db.close();
  return file;
}

/** What an attacker with write access to the database file (not the key) does: drop the guards, edit SQL. */
function attacker(file: string, fn: (raw: Database.Database) => void): void {
  const raw = new Database(file);
  raw.exec(
    'DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; DROP TRIGGER IF EXISTS audit_log_chain;',
  );
  fn(raw);
  raw.close();
}

/** Recompute every sha256 link from `from` on, as someone without the key can (the MAC column they cannot). */
function rehashFrom(raw: Database.Database, from: number): void {
  const rows = raw
    .prepare(
      'SELECT seq, at, actor, action, subject, simulation_id AS sim, details FROM audit_log WHERE seq >= ? ORDER BY seq',
    )
    .all(from) as Array<{
    seq: number;
    at: string;
    actor: string;
    action: string;
    subject: string;
    sim: string | null;
    details: string;
  }>;
  let prev =
    (
      raw
        .prepare('SELECT hash FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT 1')
        .get(from) as { hash: string } | undefined
    )?.hash ?? '';
  for (const r of rows) {
    const h = sha(prev, r);
    raw.prepare('UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, h, r.seq);
    prev = h;
  }
}

function check(file: string): ReturnType<typeof checkAudit> {
  const db = openStore(file);
  try {
    return checkAudit(db);
  } finally {
    db.close();
  }
}

function inDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-audit-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a keyed log verifies intact, says what it proves, and keeps its key outside the store (0600)', () =>
  inDir((dir) => {
    const file = storeWith(dir, 5);
    const c = check(file);
    assert.equal(c.status, 'intact');
    assert.equal(c.keyed, 5);
    assert.equal(c.unkeyed, 0);
    assert.deepEqual(c.head && c.head.seq, 5);
    assert.match(c.proves, /changed, removed or reordered/);
    assert.match(c.doesNotProve, /holds both the key file and write access/);
    assert.equal(statSync(`${file}.audit-key`).mode & 0o777, 0o600);
    const raw = new Database(file, { readonly: true });
    const key = readFileSync(`${file}.audit-key`, 'utf8').trim();
    assert.ok(
      !JSON.stringify(raw.prepare('SELECT * FROM audit_log').all()).includes(key),
      'the key is not in the database',
    );
    raw.close();
  }));

test('an entry rewritten and the chain re-hashed without the key is caught at that entry', () =>
  inDir((dir) => {
    const file = storeWith(dir, 6);
    attacker(file, (raw) => {
      raw.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").run();
      rehashFrom(raw, 3);
    });
    const c = check(file);
    assert.equal(c.status, 'tampered');
    assert.equal(c.intact, false);
    assert.equal(c.problem!.seq, 3);
    assert.match(c.problem!.problem, /MAC does not match/);
    const db = openStore(file);
    try {
      assert.equal(verifyAudit(db)!.seq, 3);
    } finally {
      db.close();
    }
  }));

test('a MAC made with a guessed key does not pass either', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    attacker(file, (raw) => {
      raw.prepare('UPDATE audit_log SET details = \'{"role":"operations"}\' WHERE seq = 2').run();
      rehashFrom(raw, 2);
      const guess = randomBytes(32);
      for (const r of raw
        .prepare('SELECT seq, hash, key_id AS k FROM audit_log WHERE seq >= 2')
        .all() as Array<{ seq: number; hash: string; k: string }>) {
        raw
          .prepare('UPDATE audit_log SET mac = ? WHERE seq = ?')
          .run(
            createHmac('sha256', guess).update(`weir-audit/1|${r.k}|${r.hash}`).digest('hex'),
            r.seq,
          );
      }
    });
    assert.equal(check(file).problem!.seq, 2);
  }));

test('entries deleted from the end are caught by the head file', () =>
  inDir((dir) => {
    const file = storeWith(dir, 6);
    attacker(file, (raw) => raw.prepare('DELETE FROM audit_log WHERE seq > 4').run());
    const c = check(file);
    assert.equal(c.status, 'tampered');
    assert.match(c.problem!.problem, /head anchors entry 6, but the log ends at 4/);
  }));

test('deleting the tail and the head file together is caught too', () =>
  inDir((dir) => {
    const file = storeWith(dir, 4);
    attacker(file, (raw) => raw.prepare('DELETE FROM audit_log WHERE seq = 4').run());
    unlinkSync(`${file}.audit-head`);
    assert.match(check(file).problem!.problem, /head file .* is missing/);
    // The next honest write does not paper over it by writing a fresh head.
    const db = openStore(file);
    appendAudit(db, { actor: 'alice', action: 'login', subject: 'cli' });
    db.close();
    assert.equal(existsSync(`${file}.audit-head`), false);
    assert.equal(check(file).status, 'tampered');
  }));

test('a rolled-back copy of the store is caught, also after new entries were written to it', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    copyFileSync(file, path.join(dir, 'old.db'));
    const db = openStore(file);
    for (let i = 0; i < 3; i++)
      appendAudit(db, { actor: 'alice', action: 'policy.applied', subject: `proposal ${i}` });
    db.close();
    copyFileSync(path.join(dir, 'old.db'), file);
    for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) unlinkSync(f);
    assert.match(check(file).problem!.problem, /head anchors entry 6, but the log ends at 3/);
    const again = openStore(file);
    for (let i = 0; i < 4; i++)
      appendAudit(again, { actor: 'mallory', action: 'login', subject: 'cli' });
    again.close();
    const c = check(file);
    assert.equal(c.status, 'tampered');
    assert.match(c.problem!.problem, /entry 6 is not the one the head anchors/);
  }));

test('a forged head file and a forged unkeyed tail entry are caught', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    const head = JSON.parse(readFileSync(`${file}.audit-head`, 'utf8')) as Record<string, unknown>;
    writeFileSync(`${file}.audit-head`, JSON.stringify({ ...head, seq: 2, mac: 'ab'.repeat(32) }));
    assert.match(check(file).problem!.problem, /not signed with the audit key/);
    writeFileSync(`${file}.audit-head`, JSON.stringify(head));
    assert.equal(check(file).status, 'intact');
    attacker(file, (raw) => {
      const prev = (
        raw.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as {
          hash: string;
        }
      ).hash;
      const r = {
        at: new Date().toISOString(),
        actor: 'mallory',
        action: 'policy.applied',
        subject: 'proposal 9',
        sim: null,
        details: '{}',
      };
      raw
        .prepare(
          'INSERT INTO audit_log (at, actor, action, subject, simulation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(r.at, r.actor, r.action, r.subject, r.sim, r.details, prev, sha(prev, r));
    });
    assert.match(check(file).problem!.problem, /no MAC although earlier entries are keyed/);
  }));

test('without its key the log cannot be verified, and no new key is made silently', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    const key = readFileSync(`${file}.audit-key`);
    unlinkSync(`${file}.audit-key`);
    const c = check(file);
    assert.equal(c.status, 'unverifiable');
    assert.match(c.problem!.problem, /audit key .* is missing/);
    const db = openStore(file);
    try {
      assert.throws(
        () => appendAudit(db, { actor: 'alice', action: 'login', subject: 'cli' }),
        /key .* is missing.*does not start a new key silently/,
      );
      assert.equal(existsSync(`${file}.audit-key`), false);
    } finally {
      db.close();
    }
    writeFileSync(`${file}.audit-key`, key, { mode: 0o644 });
    assert.match(check(file).problem!.problem, /can be read by others/);
  }));

test('an admin replaces a lost key on the record; entries of the old key stay covered by the chain', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    unlinkSync(`${file}.audit-key`);
    const db = openStore(file);
    try {
      const e = reanchorAudit(db, {
        actor: 'root',
        reason: 'key lost with the old disk',
        newKey: true,
      });
      assert.equal(e.action, 'audit.key_replaced');
      assert.equal((e.details.check_before as { status: string }).status, 'unverifiable');
      appendAudit(db, { actor: 'alice', action: 'login', subject: 'cli' });
      const c = checkAudit(db);
      assert.equal(c.status, 'intact', JSON.stringify(c.problem));
      assert.ok(c.notes.some((n) => /3 entries were keyed with an earlier key/.test(n)));
    } finally {
      db.close();
    }
  }));

test('entries from before keying verify by the chain and are marked unkeyed (before key)', () =>
  inDir((dir) => {
    const file = path.join(dir, 'old.db');
    const db: Db = openStore(file);
    // An older Weir wrote these: no key, no MAC.
    let prev = '';
    for (let i = 0; i < 3; i++) {
      const r = {
        at: new Date().toISOString(),
        actor: 'alice',
        action: 'proposal.created',
        subject: `proposal ${i}`,
        sim: null,
        details: '{}',
      };
      const h = sha(prev, r);
      db.prepare(
        'INSERT INTO audit_log (at, actor, action, subject, simulation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(r.at, r.actor, r.action, r.subject, r.sim, r.details, prev, h);
      prev = h;
    }
    try {
      assert.equal(checkAudit(db).status, 'intact');
      appendAudit(db, { actor: 'bob', action: 'proposal.approved', subject: 'proposal 1' });
      const c = checkAudit(db);
      assert.equal(c.status, 'intact');
      assert.deepEqual([c.unkeyed, c.keyed], [3, 1]);
      assert.ok(c.notes.some((n) => /unkeyed/.test(n)));
    } finally {
      db.close();
    }
    // Rewriting an unkeyed entry now still shows: the keyed entry after it covers it through the chain.
    attacker(file, (raw) => {
      raw.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1").run();
      rehashFrom(raw, 1);
    });
    assert.equal(check(file).status, 'tampered');
  }));

test('an admin re-anchors after restoring a backup; the entry records what the head said', () =>
  inDir((dir) => {
    const file = storeWith(dir, 2);
    copyFileSync(file, path.join(dir, 'backup.db'));
    const db = openStore(file);
    appendAudit(db, { actor: 'alice', action: 'login', subject: 'cli' });
    db.close();
    copyFileSync(path.join(dir, 'backup.db'), file);
    const restored = openStore(file);
    try {
      assert.equal(checkAudit(restored).status, 'tampered');
      const e = reanchorAudit(restored, {
        actor: 'root',
        reason: "restored last night's backup after disk failure",
        newKey: false,
      });
      assert.match(JSON.stringify(e.details.check_before), /head anchors entry 3/);
      assert.equal(checkAudit(restored).status, 'intact');
    } finally {
      restored.close();
    }
  }));

/** Review 14, A1: strip every MAC (and key_id), edit and re-hash — what holding only the database allows. */
function unkey(raw: Database.Database, edit: (raw: Database.Database) => void): void {
  edit(raw);
  raw.exec('UPDATE audit_log SET mac = NULL, key_id = NULL');
  rehashFrom(raw, 1);
}

test('a keyed log rewritten as "unkeyed" without the key is tampered, not intact (review 14, A1)', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    attacker(file, (raw) =>
      unkey(raw, (r) => {
        r.prepare('DELETE FROM audit_log WHERE seq = 3').run();
        r.prepare("UPDATE audit_log SET actor = 'carol' WHERE seq = 1").run();
      }),
    );
    const c = check(file);
    assert.equal(c.status, 'tampered', JSON.stringify(c));
    assert.match(
      c.problem!.problem,
      /head says the log is keyed from entry 1|head anchors entry 3/,
    );
  }));

test('MACs stripped, nothing else changed: still tampered; the unkeyed count is not believed', () =>
  inDir((dir) => {
    const file = storeWith(dir, 4);
    attacker(file, (raw) => unkey(raw, () => undefined));
    const c = check(file);
    assert.equal(c.status, 'tampered', JSON.stringify(c));
    assert.equal(c.problem!.seq, 1);
    assert.match(
      c.problem!.problem,
      /no MAC although the signed head says the log is keyed from entry 1/,
    );
  }));

test('an emptied log is tampered while the head anchors entries', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    attacker(file, (raw) => raw.exec('DELETE FROM audit_log'));
    const c = check(file);
    assert.equal(c.status, 'tampered', JSON.stringify(c));
    assert.match(c.problem!.problem, /head anchors entry 3, but the log is empty/);
    unlinkSync(`${file}.audit-key`);
    assert.equal(check(file).status, 'unverifiable', 'a head without its key: not intact either');
  }));

test('where keying began is in the signed head: entries before it stay "unkeyed", after it they must be keyed', () =>
  inDir((dir) => {
    const file = path.join(dir, 'old.db');
    const db: Db = openStore(file);
    const r = {
      at: new Date().toISOString(),
      actor: 'alice',
      action: 'x',
      subject: 's',
      sim: null,
      details: '{}',
    };
    db.prepare(
      'INSERT INTO audit_log (at, actor, action, subject, simulation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(r.at, r.actor, r.action, r.subject, r.sim, r.details, '', sha('', r));
    appendAudit(db, { actor: 'bob', action: 'proposal.approved', subject: 'proposal 1' });
    appendAudit(db, { actor: 'bob', action: 'policy.applied', subject: 'proposal 1' });
    db.close();
    const head = JSON.parse(readFileSync(`${file}.audit-head`, 'utf8')) as { keyed_from: number };
    assert.equal(head.keyed_from, 2);
    assert.deepEqual([check(file).status, check(file).unkeyed], ['intact', 1]);
    // Stripping the MAC of entry 2 alone (its content unchanged) shows.
    attacker(file, (raw) =>
      raw.exec('UPDATE audit_log SET mac = NULL, key_id = NULL WHERE seq = 2'),
    );
    assert.match(check(file).problem!.problem, /keyed from entry 2/);
  }));

test('a head written before keyed_from was recorded still verifies, bounds keying at its entry, and is carried on', () =>
  inDir((dir) => {
    const file = storeWith(dir, 3);
    const key = Buffer.from(readFileSync(`${file}.audit-key`, 'utf8').trim(), 'hex');
    const h = JSON.parse(readFileSync(`${file}.audit-head`, 'utf8')) as Record<string, unknown>;
    const mac = createHmac('sha256', key)
      .update(`weir-audit-head/1|${h.seq}|${h.hash}|${h.at}|${h.key_id}`)
      .digest('hex');
    const v1 = { seq: h.seq, hash: h.hash, at: h.at, key_id: h.key_id, mac };
    writeFileSync(`${file}.audit-head`, JSON.stringify(v1));
    assert.equal(check(file).status, 'intact');
    // Dropping keyed_from from a v2 head does not pass as a v1 head.
    writeFileSync(`${file}.audit-head`, JSON.stringify({ ...h, keyed_from: undefined }));
    assert.match(check(file).problem!.problem, /not signed/);
    writeFileSync(`${file}.audit-head`, JSON.stringify(v1));
    const db = openStore(file);
    appendAudit(db, { actor: 'alice', action: 'login', subject: 'cli' });
    db.close();
    const next = JSON.parse(readFileSync(`${file}.audit-head`, 'utf8')) as Record<string, unknown>;
    assert.deepEqual([next.seq, next.keyed_from], [4, 1]);
    attacker(file, (raw) =>
      raw.exec('UPDATE audit_log SET mac = NULL, key_id = NULL WHERE seq = 3'),
    );
    assert.equal(check(file).status, 'tampered');
  }));
