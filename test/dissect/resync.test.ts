// Resynchronisation after garbage: bytes before a valid IEC 104 APDU (or DNP3 link header) are one malformed_pdu
// at their offset, and the APDUs after them are still read, as tshark reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { tsharkFuncs, weirFuncs } from './tshark-compare.js';
import iec104spec from './oracle/iec104.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { baselineFrom } from '../../src/discover/baseline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { dnp3Request } from '../helpers/ics-frames.js';

const scada = { mac: '02:10:4c:00:00:01', ip: '10.104.0.1', port: 49152 };
const rtu = { mac: '02:10:4c:00:00:02', ip: '10.104.0.20', port: 2404 };

/** C_SC_NA_1 (single command, type 45) activation on IOA 5000, common address 1. */
function singleCommand(ns: number): Buffer {
  const body = [45, 1, 6, 0, 1, 0, 0x88, 0x13, 0x00, 0x01];
  return Buffer.from([0x68, body.length + 4, (ns << 1) & 0xff, ns >> 7, 0, 0, ...body]);
}
/** C_IC_NA_1 general interrogation. */
function interrogation(ns: number): Buffer {
  const body = [100, 1, 6, 0, 1, 0, 0, 0, 0, 20];
  return Buffer.from([0x68, body.length + 4, (ns << 1) & 0xff, ns >> 7, 0, 0, ...body]);
}

function messages(file: string): Message[] {
  const out: Message[] = [];
  const p = new DissectPipeline({ onMessage: (m) => out.push({ ...m }) });
  readCaptureSync(file, (f) => p.push(f));
  return out;
}

test('IEC 104: garbage before an APDU is one malformed PDU at its offset; the APDUs after it are kept', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-resync-'));
  try {
    const f = new TcpFlow(scada, rtu);
    const frames = [...f.handshake()];
    frames.push(f.send(true, interrogation(0))); // frame 4: clean
    // frame 5: 7 bytes of junk (no 0x68 among them), then two valid APDUs in the same segment.
    const junk = Buffer.from([0x00, 0x13, 0x37, 0xff, 0x01, 0x02, 0x03]);
    frames.push(f.send(true, Buffer.concat([junk, singleCommand(1), interrogation(2)])));
    frames.push(f.send(true, singleCommand(3))); // frame 6: the stream carries on
    const file = path.join(dir, 'iec104-garbage.pcap');
    writeFileSync(file, pcap(frames));

    const ms = messages(file).filter((m) => m.protocol === 'iec104');
    const bad = ms.filter((m) => m.anomaly !== null);
    assert.equal(bad.length, 1);
    assert.equal(bad[0]!.frame, 5);
    assert.equal(bad[0]!.fields!.offset, 0);
    assert.equal(bad[0]!.fields!.skipped, 7);
    assert.match(bad[0]!.anomaly!.detail, /7 bytes that are not iec104 at offset 0/);
    assert.deepEqual(
      ms.filter((m) => m.anomaly === null).map((m) => `${m.frame}:${m.func}`),
      ['4:100', '5:45', '5:100', '6:45'],
    );

    // tshark reads the same APDUs in the same frames.
    const ours = await weirFuncs(file);
    const theirs = await tsharkFuncs(file, iec104spec);
    for (const frame of [4, 5, 6])
      assert.deepEqual(
        [...(ours.get(`${frame}|iec104`) ?? [])].sort(),
        [...(theirs.get(frame) ?? [])].sort(),
        `frame ${frame}`,
      );

    // And the detector reports it as malformed_pdu with the offset in evidence.
    const inv = new Inventory();
    const eng = new DetectionEngine(
      baselineFrom(inv.snapshot(), new ValueRanges().ranges(), { version: 1, sources: [] }),
    );
    const p = new DissectPipeline({
      onPacket: (x) => eng.onPacket(x),
      onMessage: (m) => eng.onMessage(m),
    });
    readCaptureSync(file, (fr) => p.push(fr));
    const mal = eng.finish().filter((d) => d.type === 'malformed_pdu');
    assert.equal(mal.length, 1);
    assert.deepEqual(mal[0]!.evidence.frames, [5]);
    assert.match(mal[0]!.explanation, /at offset 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DNP3: junk before a link header is skipped to the next header with a good CRC', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-resync-'));
  try {
    const master = { mac: '02:00:00:00:00:01', ip: '10.20.0.1', port: 40000 };
    const out = { mac: '02:00:00:00:00:02', ip: '10.20.0.2', port: 20000 };
    const f = new TcpFlow(master, out);
    const read = Buffer.from(dnp3Request(1, [60, 2, 6]));
    const frames = [...f.handshake()];
    frames.push(f.send(true, Buffer.concat([Buffer.from([0x05, 0x11, 0x22]), read])));
    const file = path.join(dir, 'dnp3-garbage.pcap');
    writeFileSync(file, pcap(frames));
    const ms = messages(file).filter((m) => m.protocol === 'dnp3');
    assert.deepEqual(
      ms.map((m) => [m.frame, m.func, m.anomaly === null ? null : m.fields!.skipped]),
      [
        [4, -1, 3],
        [4, 1, null],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
