// DNP3 fidelity: a command is reported as what is on the wire, and what is cut short is flagged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dnp3Tcp } from '../../src/dissect/protocols/dnp3.js';
import type { Message } from '../../src/dissect/message.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { dnp3Request } from '../helpers/ics-frames.js';
import { sharedCapture } from '../helpers/paths.js';
import { pduContext } from '../helpers/pdu-context.js';

const ctx = pduContext({ srcIp: '10.20.0.1', dstIp: '10.20.0.2', dstPort: 20000 });

function one(b: Uint8Array): Message {
  const out: Message[] = [];
  dnp3Tcp.dissect(b, 0, b.length, ctx, true, out, { reassembly: null });
  assert.equal(out.length, 1);
  return out[0]!;
}

/** One CROB body (11 bytes): latch on, once, 100 ms on/off. */
const CROB = [0x03, 1, 100, 0, 0, 0, 100, 0, 0, 0, 0];

test('a CROB header announcing 2 objects with 1 present is a 1-point operate, flagged as truncated', () => {
  // g12v1, qualifier 0x00 (8-bit start/stop) 0..1, but only the first CROB follows.
  const m = one(dnp3Request(4, [12, 1, 0x00, 0, 1, ...CROB]));
  assert.equal(m.func, 4);
  assert.deepEqual(m.targets, [{ space: 'g12v1', start: 0, count: 1 }]);
  assert.deepEqual(m.anomaly, {
    kind: 'object_data_truncated',
    detail: 'object data truncated: 1 of 2 g12v1 objects present',
  });
  // The whole command is not flagged.
  const whole = one(dnp3Request(4, [12, 1, 0x00, 0, 1, ...CROB, ...CROB]));
  assert.deepEqual(whole.targets, [{ space: 'g12v1', start: 0, count: 2 }]);
  assert.equal(whole.anomaly, null);
});

test('the fuzzed OPERATEs of the OpenICS DNP3-Malformed capture: tshark and Weir both flag frame 2', (t) => {
  const f = sharedCapture('iti/openics__DNP3-Malformed.pcap');
  if (f === null) return t.skip('captures missing');
  let m: Message | undefined;
  const p = new DissectPipeline({
    onMessage: (x) => {
      if (x.frame === 2 && x.protocol === 'dnp3') m = { ...x };
    },
  });
  readCaptureSync(f, (fr) => p.push(fr));
  assert.ok(m);
  assert.deepEqual(m.targets, [{ space: 'g12v1', start: 0, count: 1 }]);
  assert.match(m.anomaly?.detail ?? '', /1 of 2 g12v1 objects present/);
  const ts = execFileSync(
    'tshark',
    ['-r', f, '-Y', 'frame.number==2 && _ws.malformed', '-T', 'fields', '-e', 'dnp3.al.func'],
    { encoding: 'utf8' },
  ).trim();
  assert.equal(ts, '4', 'tshark also reads an OPERATE and marks it malformed');
});
