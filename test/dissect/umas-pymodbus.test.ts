// UMAS requests (Modbus FC 90) sent to a real Modbus server (Debian's pymodbus, on a loopback address): pymodbus
// does not speak UMAS and answers ILLEGAL FUNCTION, which Weir reads as a refusal of the UMAS operation asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import { umasOperation } from '../../src/dissect/protocols/modbus-umas.js';
import type { Message } from '../../src/dissect/message.js';
import { modbusRequest } from '../helpers/ics-frames.js';
import { pduContext } from '../helpers/pdu-context.js';
import { repoRoot } from '../helpers/paths.js';

const PLC = '127.0.90.1';

/** Connects (retrying while the server starts), sends each request and collects each whole answer. */
async function exchange(requests: Uint8Array[]): Promise<Buffer[]> {
  let sock: net.Socket | null = null;
  for (let i = 0; i < 100 && sock === null; i++) {
    sock = await new Promise<net.Socket | null>((res) => {
      const s = net.connect({ host: PLC, port: 502 }, () => res(s));
      s.on('error', () => res(null));
    });
    if (sock === null) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(sock !== null, 'pymodbus did not start');
  const answers: Buffer[] = [];
  let buf = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 6 && buf.length >= 6 + buf.readUInt16BE(4)) {
      const len = 6 + buf.readUInt16BE(4);
      answers.push(buf.subarray(0, len));
      buf = buf.subarray(len);
      waiting?.();
    }
  });
  for (const r of requests) {
    const want = answers.length + 1;
    const got = new Promise<void>((res) => (waiting = res));
    sock.write(r);
    const timer = new Promise<void>((res) => setTimeout(res, 5000));
    await Promise.race([got, timer]);
    assert.equal(answers.length, want, 'pymodbus answered');
  }
  sock.destroy();
  return answers;
}

function dissect(b: Uint8Array, toServer: boolean): Message {
  const out: Message[] = [];
  const ctx = toServer
    ? pduContext()
    : pduContext({ srcIp: '10.0.0.2', dstIp: '10.0.0.1', srcPort: 502, dstPort: 40000 });
  assert.equal(modbus.pduLength(b, 0, b.length), b.length);
  modbus.dissect(b, 0, b.length, ctx, toServer, out);
  assert.equal(out.length, 1);
  return out[0]!;
}

test('UMAS STOP_PLC and READ_ID to a real pymodbus server: decoded requests, ILLEGAL FUNCTION answers', async (t) => {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error('the lab PLC listens on port 502: needs root');
    return t.skip('needs root (the lab PLC listens on port 502)');
  }
  const plc = spawn('/usr/bin/python3', [
    path.join(repoRoot, 'test/lab/agents/modbus_server.py'),
    PLC,
  ]);
  plc.stdout.resume();
  plc.stderr.resume();
  try {
    const requests = [
      modbusRequest(1, 90, [0x00, 0x41]), // STOP_PLC
      modbusRequest(2, 90, [0x00, 0x02]), // READ_ID
      modbusRequest(3, 90, [0x00, 0x31, 0x00, 0x01, 0x01, 0x00, 0x02, 0x00, 0xaa, 0xbb]), // UPLOAD_BLOCK
    ];
    const answers = await exchange(requests);
    const want = [
      { sub: 0x41, name: 'STOP_PLC', op: 'stop', write: true },
      { sub: 0x02, name: 'READ_ID', op: 'probe', write: false },
      { sub: 0x31, name: 'UPLOAD_BLOCK', op: 'download', write: true },
    ];
    want.forEach((w, i) => {
      const q = dissect(requests[i]!, true);
      assert.equal(q.func, 90);
      assert.equal(q.subfunc, w.sub);
      assert.equal(q.write, w.write);
      assert.equal(q.fields?.umas_function, w.name);
      assert.equal(umasOperation(q)?.kind, w.op);
      const a = dissect(answers[i]!, false);
      assert.equal(a.role, 'response');
      assert.equal(a.func, 90, 'exception answer to FC 90');
      assert.equal(a.txId, i + 1);
      assert.equal(a.exception, 1, 'ILLEGAL FUNCTION');
      assert.equal(a.anomaly, null);
      assert.equal(a.identity, null);
    });
  } finally {
    plc.kill();
  }
});
