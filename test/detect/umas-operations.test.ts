// Schneider UMAS engineering operations (Modbus FC 90, issue 17): a crafted engineering session — identify the
// PLC, take the reservation, stop it (refused once), send a program (Schneider's "upload"), start it — gives one
// detection per operation with ATT&CK ids; tshark sees the same FC 90 frames (it does not decode UMAS itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { umasSession, UMAS_EWS, UMAS_PLC } from '../fixtures-gen/umas-session.js';
import { detectFile } from './synthetic.js';

const ews = UMAS_EWS,
  plc = UMAS_PLC;

test('UMAS session: reservation, refused stop, stop, program sent in blocks, start — each an operation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-umas-'));
  try {
    const file = path.join(dir, 'umas.pcap');
    writeFileSync(file, umasSession());

    // tshark: the same frames are Modbus function 90 (4.0 shows no UMAS fields).
    const ts = execFileSync(
      'tshark',
      ['-r', file, '-Y', 'modbus', '-T', 'fields', '-e', 'frame.number', '-e', 'modbus.func_code'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.deepEqual(
      ts.map((r) => r[0]),
      ['4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16', '17'],
    );
    assert.ok(ts.every((r) => r[1] === '90'));

    const ds = detectFile(file);
    const of = (type: string) => ds.filter((d) => d.type === type && d.protocol === 'modbus');
    const stops = of('cpu_stop');
    const sent = stops.filter((d) => d.evidence.fields.outcome === 'sent');
    const failed = stops.filter((d) => d.evidence.fields.outcome === 'failed');
    assert.ok(sent.length >= 1, ds.map((d) => `${d.type}/${d.detail}`).join(', '));
    assert.equal(sent[0]!.evidence.frames[0], 7);
    assert.equal(sent[0]!.src, ews.ip);
    assert.equal(sent[0]!.dst, plc.ip);
    assert.equal(sent[0]!.severity, 'critical');
    assert.ok((sent[0]!.evidence.fields.attack as string[]).includes('T0881'));
    assert.match(sent[0]!.explanation, /stopped the PLC \(UMAS STOP_PLC\)/);
    assert.equal(failed.length, 1, 'the refused stop is a failed attempt');
    assert.equal(failed[0]!.evidence.frames[0], 8);
    assert.equal(failed[0]!.evidence.fields.status, 0xfd);

    const dl = of('program_download');
    assert.equal(dl.length, 1, 'the blocks fold into one download');
    assert.equal(dl[0]!.detail, 'modbus:umas_program_download');
    assert.equal(dl[0]!.evidence.frames[0], 11);
    assert.ok((dl[0]!.evidence.fields.attack as string[]).includes('T0843'));
    assert.equal(of('program_upload').length, 0, "Schneider's upload is a download into the PLC");

    assert.equal(of('cpu_start').length, 1);
    assert.equal(of('cpu_start')[0]!.evidence.frames[0], 15);
    const lock = of('controller_lock');
    assert.equal(lock.length, 1);
    assert.equal(lock[0]!.evidence.frames[0], 5);
    assert.equal(of('device_probe').length, 1, 'READ_ID probes the PLC');
    assert.equal(of('config_change').length, 0, 'reads and the release are not operations');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
