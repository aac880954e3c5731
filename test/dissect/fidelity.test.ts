// Dissector fidelity (issue 21): nothing a device would act on goes unseen or unflagged. Crafted traffic, checked
// against tshark where tshark decodes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcap, TcpFlow, udp } from '../fixtures-gen/pcap-writer.js';
import { linkFrame, segments } from '../fixtures-gen/dnp3-frames.js';
import { modbusRequest } from '../helpers/ics-frames.js';
import { tsharkFuncs, weirFuncs } from './tshark-compare.js';
import dnp3spec from './oracle/dnp3.js';
import modbusSpec from './oracle/modbus.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';

const MASTER = 1,
  OUTSTATION = 10;
const master = { mac: '02:00:00:00:00:01', ip: '10.20.0.1', port: 20000 };
const outstation = { mac: '02:00:00:00:00:02', ip: '10.20.0.2', port: 20000 };

function messages(file: string, protocol: string): Message[] {
  const out: Message[] = [];
  const p = new DissectPipeline({
    onMessage: (m) => {
      if (m.protocol === protocol) out.push({ ...m });
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  return out;
}

function withCapture(name: string, frames: Buffer[], body: (file: string) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-fidelity-'));
    try {
      const file = path.join(dir, name);
      writeFileSync(file, pcap(frames));
      await body(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** A response (FIR, FIN, seq 2) with a g30v2 range of `n` 16-bit analog inputs with flag (3 bytes each). */
function analogResponse(n: number): Buffer {
  const objs = [30, 2, 0x01, 0, 0, (n - 1) & 255, (n - 1) >> 8];
  const data: number[] = [];
  for (let i = 0; i < n; i++) data.push(0x01, i & 255, i >> 8);
  return Buffer.from([0xc2, 129, 0, 0, ...objs, ...data]);
}

test(
  'DNP3 over UDP: a response spread over several datagrams is joined per link pair, as over TCP',
  withCapture(
    'dnp3-udp.pcap',
    (() => {
      const app = analogResponse(200); // 611 bytes: three transport segments
      const segs = segments(MASTER, OUTSTATION, app);
      assert.equal(segs.length, 3);
      // Another link pair's single-frame request lands between the segments on the same addresses.
      const other = segments(OUTSTATION, 2, Buffer.from([0xc1, 1, 60, 2, 6]));
      return [
        udp(outstation, master, segs[0]!),
        udp(master, outstation, other[0]!),
        udp(outstation, master, segs[1]!),
        udp(outstation, master, segs[2]!),
      ];
    })(),
    async (file) => {
      const ms = messages(file, 'dnp3');
      const response = ms.filter((m) => m.func === 129);
      assert.equal(response.length, 1, 'one response, at its last datagram');
      assert.equal(response[0]!.frame, 4);
      assert.equal(response[0]!.anomaly, null);
      assert.deepEqual(response[0]!.targets, [{ space: 'g30v2', start: 0, count: 200 }]);
      assert.equal(response[0]!.values!.length, 200);
      // tshark joins the same fragment at the same frame.
      const theirs = await tsharkFuncs(file, dnp3spec);
      const ours = await weirFuncs(file);
      assert.deepEqual(theirs.get(4), [129]);
      assert.deepEqual(ours.get('4|dnp3'), [129]);
      assert.equal(theirs.get(1), undefined, 'neither reports the first segment alone');
      assert.equal(ours.get('1|dnp3'), undefined);
    },
  ),
);

test(
  'an 8,200-byte WRITE (65,535 g1v1 points, every CRC valid) is decoded as far as it fits and flagged',
  withCapture(
    'dnp3-oversize.pcap',
    (() => {
      const bits = Buffer.alloc(8192, 0xff);
      const app = Buffer.concat([
        Buffer.from([0xc3, 2, 1, 1, 0x01, 0, 0, 0xfe, 0xff]), // WRITE g1v1 0..65534
        bits,
      ]);
      const f = new TcpFlow({ ...master, port: 40000 }, outstation);
      return [...f.handshake(), ...segments(OUTSTATION, MASTER, app).map((s) => f.send(true, s))];
    })(),
    (file) => {
      const ms = messages(file, 'dnp3');
      assert.equal(ms.length, 1);
      const m = ms[0]!;
      assert.equal(m.func, 2, 'the WRITE is reported, not dropped');
      assert.equal(m.write, true);
      assert.match(m.anomaly!.detail, /transport fragment exceeds 4096 bytes .*decoded the first/);
    },
  ),
);

test(
  'user data in a link frame whose function carries none is flagged, not taken for a request',
  withCapture(
    'dnp3-linkfunc.pcap',
    (() => {
      const f = new TcpFlow({ ...master, port: 40001 }, outstation);
      const read = Buffer.from([0xc0, 0xc0, 1, 60, 2, 6]);
      return [
        ...f.handshake(),
        f.send(true, linkFrame(OUTSTATION, MASTER, read, 0xc9)), // REQUEST_LINK_STATUS with user data
        f.send(true, linkFrame(OUTSTATION, MASTER, read, 0xc4)), // the same as UNCONFIRMED_USER_DATA
      ];
    })(),
    (file) => {
      const ms = messages(file, 'dnp3');
      assert.deepEqual(
        ms.map((m) => [m.frame, m.func]),
        [
          [4, -1],
          [5, 1],
        ],
      );
      assert.match(
        ms[0]!.anomaly!.detail,
        /primary link frame of function 9 \(REQUEST_LINK_STATUS\)/,
      );
      assert.equal(ms[1]!.anomaly, null);
    },
  ),
);

test(
  'a Modbus PDU over 253 bytes (MBAP length 255, as UMAS sends) is decoded and flagged, as tshark decodes it',
  withCapture(
    'modbus-255.pcap',
    (() => {
      const f = new TcpFlow({ ...master, port: 40002 }, { ...outstation, port: 502 });
      const umas = modbusRequest(7, 90, [0x00, 0x28, ...new Array(251).fill(0x41)]);
      assert.equal((umas[4]! << 8) | umas[5]!, 255);
      return [
        ...f.handshake(),
        f.send(true, Buffer.from(umas)),
        f.send(true, Buffer.from(modbusRequest(8, 3, [0, 0, 0, 10]))),
      ];
    })(),
    async (file) => {
      const ms = messages(file, 'modbus');
      assert.deepEqual(
        ms.map((m) => [m.frame, m.func]),
        [
          [4, 90],
          [5, 3],
        ],
      );
      assert.match(ms[0]!.anomaly!.detail, /PDU of 254 bytes exceeds the 253-byte Modbus limit/);
      assert.equal(ms[1]!.anomaly, null, 'the stream stays in step after it');
      const theirs = await tsharkFuncs(file, modbusSpec);
      assert.deepEqual(theirs.get(4), [90]);
      assert.deepEqual(theirs.get(5), [3]);
    },
  ),
);

test(
  'a request captured after the response that acknowledges it (SPAN reordering) is kept; tshark drops it',
  withCapture(
    'modbus-spurious.pcap',
    (() => {
      const f = new TcpFlow({ ...master, port: 40003 }, { ...outstation, port: 502 });
      const hs = f.handshake();
      const request = f.send(true, Buffer.from(modbusRequest(1, 3, [0, 0, 0, 1])));
      const response = f.send(false, Buffer.from([0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 42]));
      const next = f.send(true, Buffer.from(modbusRequest(2, 3, [0, 1, 0, 1])));
      return [...hs, response, request, next];
    })(),
    async (file) => {
      const ours = await weirFuncs(file);
      const theirs = await tsharkFuncs(file, modbusSpec);
      // tshark calls frame 5 a "spurious retransmission" of bytes it never saw and does not dissect it.
      assert.equal(theirs.get(5), undefined);
      assert.deepEqual(ours.get('5|modbus'), [3], 'the only copy of the request is kept');
      assert.deepEqual(ours.get('4|modbus'), [3]);
      assert.deepEqual(ours.get('6|modbus'), [3]);
    },
  ),
);
