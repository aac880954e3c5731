import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { repoRoot } from '../helpers/paths.js';
import { person } from '../helpers/weir-cli.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const weir = (...args: string[]) => run(process.execPath, [cli, ...args], { maxBuffer: 1 << 27 });
const plant = path.join(repoRoot, 'fixtures/plant.pcap');

test('weir policy: learn, propose, validate, simulate (table, JSON, HTML, recorded), drift; broken files fail with file:line', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-policy-cli-'));
  try {
    const db = path.join(dir, 'weir.db');
    await weir('discover', plant, '--db', db);
    await weir('learn', plant, '--db', db, '--until', '50%');
    const policyFile = path.join(dir, 'policy.yaml');
    await weir('policy', 'propose', '--baseline', db, '--out', policyFile, '--site', 'lab');
    const v = await weir('policy', 'validate', policyFile);
    assert.match(v.stdout, /ok \(2 zones, 1 conduits, \d+ context groups/);

    const html = path.join(dir, 'report.html');
    // Recording evidence in the store is a state change: it needs a proven person.
    await assert.rejects(
      weir(
        'policy',
        'simulate',
        policyFile,
        '--capture',
        plant,
        '--from',
        '50%',
        '--baseline',
        db,
        '--db',
        db,
        '--as',
        'alice',
      ),
      (e: { stderr: string }) => /alone proves nothing/.test(e.stderr),
    );
    const alice = await person(db, dir, 'alice', ['analyst', 'admin'], { admin: '' });
    const s = await weir(
      'policy',
      'simulate',
      policyFile,
      '--capture',
      plant,
      '--from',
      '50%',
      '--baseline',
      db,
      '--db',
      db,
      '--html',
      html,
      '--token-file',
      alice,
    );
    assert.match(s.stdout, /flows? would break/);
    assert.match(s.stdout, /10\.77\.0\.66 → plc-21/);
    assert.match(s.stdout, /recorded as sim-[0-9a-f]{12}/);
    assert.ok(
      existsSync(html) && readFileSync(html, 'utf8').includes('<h1>Policy simulation</h1>'),
    );
    const j = JSON.parse(
      (await weir('policy', 'simulate', policyFile, '--capture', plant, '--from', '50%', '--json'))
        .stdout,
    ) as { blocked: unknown[]; summary: string };
    assert.ok(j.blocked.length > 0 && j.summary.length > 0);
    const audit = await weir('policy', 'audit', '--db', db);
    assert.match(audit.stdout, /alice +simulation\.recorded/);
    assert.match(
      audit.stderr,
      /audit chain intact \(\d+ entries: \d+ keyed with key [0-9a-f]{16}, 0 unkeyed \(before key\)\); head anchored at entry \d+/,
    );
    assert.match(audit.stderr, /proves: .*\n {2}does not prove: That the recorded events are true/);

    // Detections carry the zone of the policy they were checked under.
    const det = (
      await weir(
        'detect',
        plant,
        '--baseline',
        db,
        '--from',
        '50%',
        '--policy',
        policyFile,
        '--jsonl',
        '--no-save',
      )
    ).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; dst: string; zone: string | null });
    assert.ok(det.length > 0);
    assert.equal(
      det.find((d) => d.type === 'cpu_stop')?.zone,
      'control',
      'the stopped PLC sits in the control zone',
    );

    // Traffic that breaks the policy fails the check (exit 2), like diff.
    const drift = await weir('policy', 'drift', policyFile, '--capture', plant).then(
      () => assert.fail('drift exits 2 on violations'),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(drift.code, 2);
    assert.match(drift.stdout, /flows run that the policy does not allow/);

    // Pointed at a key that is not there, verification says it cannot verify (and creates no key).
    await assert.rejects(
      weir('policy', 'audit', '--db', db, '--audit-key', path.join(dir, 'elsewhere.key')),
      (e: { code: number; stderr: string }) =>
        e.code === 3 &&
        /cannot be verified: the audit key .*elsewhere\.key is missing/.test(e.stderr),
    );
    assert.equal(existsSync(path.join(dir, 'elsewhere.key')), false);
    // Someone with write access to the store file (not the key) rewrites who recorded the evidence.
    const raw = new Database(db);
    raw.exec(
      "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE action = 'simulation.recorded'",
    );
    raw.close();
    await assert.rejects(
      weir('policy', 'audit', '--db', db),
      (e: { code: number; stderr: string }) =>
        e.code === 2 &&
        /audit log TAMPERED at entry \d+: content does not match its hash/.test(e.stderr),
    );

    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(
      broken,
      readFileSync(policyFile, 'utf8').replace('mode: observe', 'mode: enforcing'),
    );
    await assert.rejects(
      weir('policy', 'validate', broken),
      (e: { code: number; stderr: string }) =>
        e.code === 1 &&
        /broken\.yaml:\d+:\d+: zones\[0\]\.mode: must be one of observe, monitor, simulate, enforce/.test(
          e.stderr,
        ),
    );
    await assert.rejects(
      weir('policy', 'simulate', broken, '--capture', plant),
      (e: { stderr: string }) => /not a valid policy \(1 problem\)/.test(e.stderr),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
