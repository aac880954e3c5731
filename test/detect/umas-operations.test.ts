// Schneider UMAS engineering operations (Modbus FC 90, issue 17): a crafted engineering session — identify the
// PLC, take the reservation, stop it (refused once), send a program (Schneider's "upload"), start it — gives one
// detection per operation with ATT&CK ids; tshark sees the same FC 90 frames (it does not decode UMAS itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { detectFile } from './synthetic.js';
import { modbusRequest } from '../helpers/ics-frames.js';

const ews = { mac: '02:00:00:00:09:01', ip: '10.9.0.30', port: 49300 };
const plc = { mac: '02:00:00:00:09:02', ip: '10.9.0.20', port: 502 };

const req = (tx: number, session: number, fn: number, data: number[] = []): Buffer =>
  Buffer.from(modbusRequest(tx, 90, [session, fn, ...data]));
/** A UMAS answer: MBAP, FC 90, session, status (0xFE OK / 0xFD error) and data. */
const res = (tx: number, session: number, status: number, data: number[] = []): Buffer =>
  Buffer.from(modbusRequest(tx, 90, [session, status, ...data]));

test('UMAS session: reservation, refused stop, stop, program sent in blocks, start — each an operation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-umas-'));
  try {
    const f = new TcpFlow(ews, plc);
    const frames = [...f.handshake()];
    const block = (n: number) => [0x00, 0x01, n, 0x00, 0x04, 0x00, 1, 2, 3, 4];
    frames.push(f.send(true, req(1, 0, 0x02))); // 4 READ_ID
    frames.push(f.send(true, req(2, 0, 0x10, [0x3b, 0x01, 0x45, 0x57, 0x53]))); // 5 TAKE_PLC_RESERVATION
    frames.push(f.send(false, res(2, 0, 0xfe, [0xc7]))); // 6 granted, key 0xC7
    frames.push(f.send(true, req(3, 0xc7, 0x41))); // 7 STOP_PLC
    frames.push(f.send(false, res(3, 0xc7, 0xfd, [0x81]))); // 8 refused
    frames.push(f.send(true, req(4, 0xc7, 0x41))); // 9 STOP_PLC again
    frames.push(f.send(false, res(4, 0xc7, 0xfe))); // 10 OK
    frames.push(f.send(true, req(5, 0xc7, 0x30, [0x00, 0x01]))); // 11 INITIALIZE_UPLOAD
    frames.push(f.send(true, req(6, 0xc7, 0x31, block(1)))); // 12 UPLOAD_BLOCK
    frames.push(f.send(true, req(7, 0xc7, 0x31, block(2)))); // 13 UPLOAD_BLOCK
    frames.push(f.send(true, req(8, 0xc7, 0x32, [0x00, 0x01]))); // 14 END_STRATEGY_UPLOAD
    frames.push(f.send(true, req(9, 0xc7, 0x40))); // 15 START_PLC
    frames.push(f.send(true, req(10, 0xc7, 0x22, [0x00]))); // 16 READ_VARIABLES: no operation
    frames.push(f.send(true, req(11, 0xc7, 0x11))); // 17 RELEASE_PLC_RESERVATION: no operation
    const file = path.join(dir, 'umas.pcap');
    writeFileSync(file, pcap(frames));

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
