import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

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
    const s = await weir('policy', 'simulate', policyFile, '--capture', plant, '--from', '50%', '--baseline', db, '--db', db, '--html', html, '--as', 'alice');
    assert.match(s.stdout, /flows? would break/);
    assert.match(s.stdout, /10\.77\.0\.66 → plc-21/);
    assert.match(s.stdout, /recorded as sim-[0-9a-f]{12}/);
    assert.ok(existsSync(html) && readFileSync(html, 'utf8').includes('<h1>Policy simulation</h1>'));
    const j = JSON.parse((await weir('policy', 'simulate', policyFile, '--capture', plant, '--from', '50%', '--json')).stdout) as { blocked: unknown[]; summary: string };
    assert.ok(j.blocked.length > 0 && j.summary.length > 0);
    const audit = await weir('policy', 'audit', '--db', db);
    assert.match(audit.stdout, /simulation\.recorded/);
    assert.match(audit.stderr, /audit chain intact/);

    // Detections carry the zone of the policy they were checked under.
    const det = (await weir('detect', plant, '--baseline', db, '--from', '50%', '--policy', policyFile, '--jsonl', '--no-save')).stdout
      .trim().split('\n').map((l) => JSON.parse(l) as { type: string; dst: string; zone: string | null });
    assert.ok(det.length > 0);
    assert.equal(det.find((d) => d.type === 'cpu_stop')?.zone, 'control', 'the stopped PLC sits in the control zone');

    const drift = await weir('policy', 'drift', policyFile, '--capture', plant);
    assert.match(drift.stdout, /flow\(s\) run that the policy does not allow/);

    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, readFileSync(policyFile, 'utf8').replace('mode: observe', 'mode: enforcing'));
    await assert.rejects(weir('policy', 'validate', broken), (e: { code: number; stderr: string }) => e.code === 1 && /broken\.yaml:\d+:\d+: zones\[0\]\.mode: must be one of observe, monitor, simulate, enforce/.test(e.stderr));
    await assert.rejects(weir('policy', 'simulate', broken, '--capture', plant), (e: { stderr: string }) => /not a valid policy \(1 problem\)/.test(e.stderr));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
