// Passive detection judges S7 jobs segmented over COTP DT TPDUs as the whole job: a PLC STOP in three
// fragments is a critical CPU stop and a WRITE_VAR in two is a write outside the profile, not a malformed PDU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { hmi, plc, s7FragmentedSession, s7NormalSession } from '../fixtures-gen/s7-fragments.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const weir = (...args: string[]) => run(process.execPath, [cli, ...args], { maxBuffer: 1 << 26 });

interface Found {
  type: string;
  severity: string;
  src: string;
  dst: string;
  evidence: { frames: number[]; fields: Record<string, unknown> };
}

test('weir detect raises a critical CPU stop and a write detection for segmented S7 jobs', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-s7frag-'));
  try {
    const normal = path.join(dir, 'normal.pcap'),
      attack = path.join(dir, 'fragments.pcap'),
      db = path.join(dir, 'weir.db');
    const s = s7FragmentedSession();
    writeFileSync(normal, s7NormalSession());
    writeFileSync(attack, s.pcap);
    await weir('learn', normal, '--db', db, '--create', '--note', 'HMI polling DB1');
    const { stdout } = await weir('detect', attack, '--baseline', db, '--jsonl', '--no-save');
    const ds = stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Found);
    const summary = ds.map((d) => `${d.type}@${d.evidence.frames.join('/')}`).join(', ');

    const stop = ds.find((d) => d.type === 'cpu_stop');
    assert.ok(stop, `no cpu_stop in ${summary}`);
    assert.equal(stop.severity, 'critical');
    assert.deepEqual(stop.evidence.frames, [s.stopFrame]);
    assert.equal(stop.src, hmi.ip);
    assert.equal(stop.dst, plc.ip);

    const writes = ds.filter(
      (d) =>
        (d.type === 'write_new_range' || d.type === 'function_outside_profile') &&
        d.evidence.frames[0] === s.writeFrame,
    );
    // The HMI never wrote: one detection for the new write function, listing what it wrote.
    assert.deepEqual(
      writes.map((d) => d.type),
      ['function_outside_profile'],
      summary,
    );
    assert.match(String((writes[0]!.evidence.fields.points as string[])[0]), /^DB1:/);
    assert.equal(
      ds.filter((d) => d.type === 'malformed_pdu').length,
      0,
      `fragments are not malformed: ${summary}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
