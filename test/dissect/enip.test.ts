// EtherNet/IP encapsulation framing: the legacy command codes Rockwell tools still send are framed and reported
// (RSLinx's 0x0001 in the ITI firmware-change capture); codes the specification keeps for future use are not ENIP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enipTcp } from '../../src/dissect/protocols/enip.js';
import { functionCategory } from '../../src/dissect/registry.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { readCaptureSync } from '../../src/capture/source.js';
import type { Message } from '../../src/dissect/message.js';
import { TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { sharedCapture } from '../helpers/paths.js';
import { tsharkFuncs } from './tshark-compare.js';
import enipSpec from './oracle/enip.js';

/** An encapsulation header (CIP Vol 2 §2-3.1, little-endian) followed by `data`. */
function encap(cmd: number, data: number[] = [], session = 0): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt16LE(cmd, 0);
  h.writeUInt16LE(data.length, 2);
  h.writeUInt32LE(session, 4);
  return Buffer.concat([h, Buffer.from(data)]);
}

const LEGACY = [0x0001, 0x0002, 0x0003, 0x0005, 0x0067, 0x006e, 0x0071, 0x0074, 0x00c7];
const FUTURE = [0x0006, 0x0062, 0x00c9, 0x1234, 0xffff];

test('legacy encapsulation commands are framed by their length; codes reserved for future use are not EtherNet/IP', () => {
  for (const cmd of LEGACY)
    assert.equal(
      enipTcp.pduLength(encap(cmd, [1, 2, 3]), 0, 27),
      27,
      `command 0x${cmd.toString(16)}`,
    );
  for (const cmd of FUTURE)
    assert.equal(enipTcp.pduLength(encap(cmd), 0, 24), -1, `command 0x${cmd.toString(16)}`);
});

test('a legacy command is reported as such, cannot be judged, and the PDUs after it in the segment are still read', () => {
  const flow = new TcpFlow(
    { mac: '02:00:00:00:00:01', ip: '10.9.0.1', port: 1072 },
    { mac: '02:00:00:00:00:02', ip: '10.9.0.2', port: 44818 },
  );
  const out: Message[] = [];
  const p = new DissectPipeline({ onMessage: (m) => out.push(structuredClone(m)) });
  const frames = [
    ...flow.handshake(),
    flow.send(true, Buffer.concat([encap(0x0001), encap(0x0065, [1, 0, 0, 0])])),
  ];
  frames.forEach((data, i) =>
    p.push({
      index: i + 1,
      ts: i,
      linkType: 1,
      iface: 0,
      data,
      offset: 0,
      capLen: data.length,
      origLen: data.length,
    }),
  );
  assert.deepEqual(
    out.map((m) => [m.protocol, m.func, m.funcName, m.role]),
    [
      ['enip', 0x0001, 'LEGACY_0x0001', 'request'],
      ['enip', 0x0065, 'REGISTER_SESSION', 'request'],
    ],
  );
  // The gateway refuses what its groups cannot judge: a legacy command stays 'unknown'.
  assert.equal(functionCategory(out[0]!), 'unknown');
  assert.deepEqual(p.stats.anomalies, {});
});

test('the RSLinx legacy 0x0001 exchange in the ITI firmware-change capture is read as tshark reads it', async (t) => {
  const file = sharedCapture('iti/openics__EIP-FirmwareChange.pcap');
  if (file === null) {
    t.skip('shared capture missing');
    return;
  }
  const ours: Message[] = [];
  const p = new DissectPipeline({
    onMessage: (m) => {
      if (m.frame === 10672 || m.frame === 10676) ours.push(structuredClone(m));
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  assert.deepEqual(
    ours.map((m) => [m.frame, m.protocol, m.func, m.role]),
    [
      [10672, 'enip', 1, 'request'],
      [10676, 'enip', 1, 'response'],
    ],
  );
  const theirs = await tsharkFuncs(file, enipSpec);
  assert.deepEqual([theirs.get(10672), theirs.get(10676)], [[1], [1]]);
});
