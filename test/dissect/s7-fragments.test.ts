// S7 jobs segmented over several COTP DT TPDUs are dissected whole, at the frame of their last fragment,
// as tshark (which reassembles COTP by default) sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { s7FragmentedSession } from '../fixtures-gen/s7-fragments.js';
import { tsharkFuncs } from './tshark-compare.js';
import s7spec from './oracle/s7comm.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist/src/cli/main.js');

interface Line {
  frame: number;
  protocol: string;
  role: string;
  func: number;
  write?: boolean;
  targets?: { space: string; start: number; count: number }[];
  anomaly?: string;
  fields?: Record<string, unknown>;
}

test('weir dissect gives segmented WRITE_VAR and PLC STOP jobs whole at their last fragment, and agrees with tshark', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-s7frag-'));
  try {
    const s = s7FragmentedSession();
    const file = path.join(dir, 's7-fragments.pcap');
    writeFileSync(file, s.pcap);
    const { stdout } = await run(process.execPath, [cli, 'dissect', file, '--jsonl'], {
      maxBuffer: 1 << 26,
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    assert.deepEqual(
      lines.filter((l) => l.anomaly),
      [],
      'no fragment is reported as a malformed PDU',
    );

    const write = lines.filter((l) => l.func === 0x05 && l.role === 'request');
    assert.equal(write.length, 1, 'one WRITE_VAR job');
    assert.equal(write[0]!.frame, s.writeFrame);
    assert.equal(write[0]!.write, true);
    assert.deepEqual(write[0]!.targets, [{ space: 'DB1', start: 16, count: 4 }]);
    assert.equal(write[0]!.fields?.cotp_fragments, 2);

    const stop = lines.filter((l) => l.func === 0x29 && l.role === 'request');
    assert.equal(stop.length, 1, 'one PLC STOP job');
    assert.equal(stop[0]!.frame, s.stopFrame);
    assert.equal(stop[0]!.fields?.cotp_fragments, 3);

    const read = lines.filter((l) => l.frame === s.readFrame);
    assert.deepEqual(
      read.map((l) => l.func),
      [0x04],
      'the READ_VAR after the fragments is dissected as usual',
    );
    for (const f of [s.writeFrame - 1, s.stopFrame - 1, s.stopFrame - 2])
      assert.deepEqual(
        lines.filter((l) => l.frame === f),
        [],
        `fragment frame ${f} emits nothing`,
      );

    // tshark: the same function codes at the same frames.
    const theirs = await tsharkFuncs(file, s7spec);
    const ours = new Map<number, number[]>();
    for (const l of lines)
      if (l.protocol === 's7comm' && l.func >= 0)
        ours.set(l.frame, [...(ours.get(l.frame) ?? []), l.func]);
    assert.deepEqual(
      [...ours].sort((a, b) => a[0] - b[0]),
      [...theirs].sort((a, b) => a[0] - b[0]),
    );
    assert.deepEqual(
      theirs.get(s.stopFrame),
      [0x29],
      'tshark reassembles the PLC STOP at its last fragment',
    );
    assert.deepEqual(
      theirs.get(s.writeFrame),
      [0x05],
      'tshark reassembles the WRITE_VAR at its last fragment',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
