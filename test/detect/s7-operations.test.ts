// S7 engineering operations (issue 21): a password submission, copy RAM to ROM (PI _MODU) and an S7comm-plus
// upload are each their own operation, with ATT&CK ids; crafted frames, checked against tshark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { detectFile } from './synthetic.js';
import { cotpData, s7Job, s7PlcStop, u16 } from '../helpers/ics-frames.js';

const ews = { mac: '02:00:00:00:07:01', ip: '10.7.0.30', port: 49200 };
const plc = { mac: '02:00:00:00:07:02', ip: '10.7.0.20', port: 102 };

/** Userdata request (ROSCTR 7): security group 5, subfunction 1 (PLC password), 8 obfuscated bytes. */
function password(ref: number): number[] {
  const params = [0x00, 0x01, 0x12, 0x04, 0x11, 0x45, 0x01, 0x00];
  const data = [0xff, 0x09, ...u16(8), 0x02, 0x03, 0x00, 0x01, 0x73, 0x04, 0x55, 0x55];
  return [
    0x32,
    0x07,
    0,
    0,
    ...u16(ref),
    ...u16(params.length),
    ...u16(data.length),
    ...params,
    ...data,
  ];
}

/** JOB PI service (0x28) `name` with no parameter block. */
function piService(ref: number, name: string): number[] {
  const n = [...Buffer.from(name)];
  return s7Job(ref, [0x28, 0, 0, 0, 0, 0, 0, 0xfd, 0x00, 0x00, n.length, ...n]);
}

test('S7 password submission and copy RAM to ROM are their own operations; a stop stays a stop', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-s7ops-'));
  try {
    const f = new TcpFlow(ews, plc);
    const frames = [...f.handshake()];
    frames.push(f.send(true, Buffer.from(cotpData(password(1))))); // 4
    frames.push(f.send(true, Buffer.from(cotpData(piService(2, '_MODU'))))); // 5
    frames.push(f.send(true, Buffer.from(cotpData(s7PlcStop(3))))); // 6
    frames.push(f.send(true, Buffer.from(cotpData(piService(4, 'P_PROGRAM'))))); // 7
    const file = path.join(dir, 's7ops.pcap');
    writeFileSync(file, pcap(frames));

    // tshark reads the same: a security-group userdata request, PI _MODU, stop, PI P_PROGRAM.
    const ts = execFileSync(
      'tshark',
      [
        '-r',
        file,
        '-Y',
        's7comm',
        '-T',
        'fields',
        '-e',
        'frame.number',
        '-e',
        's7comm.param.userdata.funcgroup',
        '-e',
        's7comm.param.userdata.subfunc',
        '-e',
        's7comm.param.func',
        '-e',
        's7comm.param.pistart.servicename',
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.deepEqual(
      ts.map((r) => r[0]),
      ['4', '5', '6', '7'],
    );
    assert.equal(ts[0]![1], '5', 'security group');
    assert.equal(ts[0]![2], '1', 'PLC password');
    assert.equal(ts[1]![3], '0x28');
    assert.equal(ts[1]![4], '_MODU');

    const ds = detectFile(file);
    const of = (type: string) => ds.filter((d) => d.type === type);
    const pw = of('password_submission');
    assert.equal(pw.length, 1);
    assert.deepEqual(pw[0]!.evidence.frames, [4]);
    assert.equal(pw[0]!.src, ews.ip);
    assert.equal(pw[0]!.dst, plc.ip);
    assert.ok((pw[0]!.evidence.fields.attack as string[]).includes('T0859'));
    const modu = of('program_download').filter((d) => d.detail === 's7comm:copy_ram_to_rom');
    assert.equal(modu.length, 1);
    assert.deepEqual(modu[0]!.evidence.frames, [5]);
    assert.match(modu[0]!.explanation, /copied RAM to ROM/);
    assert.ok((modu[0]!.evidence.fields.attack as string[]).includes('T0889'));
    assert.deepEqual(of('cpu_stop')[0]!.evidence.frames, [6]);
    assert.deepEqual(of('cpu_start')[0]!.evidence.frames, [7], 'P_PROGRAM is the start, not _MODU');
    assert.equal(of('cpu_start').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('S7comm-plus: reading block bodies (GetVarSubstreamed) is a program upload', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-s7ops-'));
  try {
    const f = new TcpFlow(ews, plc);
    const frames = [...f.handshake()];
    // S7comm-plus v1: 0x72, version, length; opcode 0x31 request, reserved, function 0x0586, sequence.
    const body = [0x31, 0x00, 0x00, 0x05, 0x86, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00];
    const pdu = [0x72, 0x01, ...u16(body.length), ...body, 0x72, 0x01, 0x00, 0x00];
    frames.push(f.send(true, Buffer.from(cotpData(pdu))));
    const file = path.join(dir, 's7plus-upload.pcap');
    writeFileSync(file, pcap(frames));
    const up = detectFile(file).filter((d) => d.type === 'program_upload');
    assert.equal(up.length, 1);
    assert.equal(up[0]!.protocol, 's7comm_plus');
    assert.deepEqual(up[0]!.evidence.frames, [4]);
    assert.ok((up[0]!.evidence.fields.attack as string[]).includes('T0845'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
