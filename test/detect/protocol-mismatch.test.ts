// Not-ICS payload on an ICS port (issue 21): TLS, HTTP, DCE/RPC, NFS and RDP sent to the industrial ports are
// recognised as what they are and raise protocol_mismatch, not just new_asset/new_edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { detectFile } from './synthetic.js';

const tlsHello = Buffer.from([
  0x16,
  0x03,
  0x01,
  0x00,
  0x2f,
  0x01,
  0x00,
  0x00,
  0x2b,
  0x03,
  0x03,
  ...new Array(32).fill(7),
  0x00,
  0x00,
  0x02,
  0x00,
  0x2f,
  0x01,
  0x00,
]);
const httpGet = Buffer.from('GET / HTTP/1.1\r\nHost: plc\r\n\r\n');
const dceBind = Buffer.from([
  0x05,
  0x00,
  0x0b,
  0x03,
  0x10,
  0x00,
  0x00,
  0x00,
  0x48,
  0x00,
  0x00,
  0x00,
  0x01,
  0x00,
  0x00,
  0x00,
  0xb8,
  0x10,
  0xb8,
  0x10,
  0x00,
  0x00,
  0x00,
  0x00,
  ...new Array(48).fill(0),
]);
/** ONC RPC CALL to NFS (program 100003) version 3, NULL procedure, with a TCP record mark. */
const nfsNull = (() => {
  const body = Buffer.alloc(40);
  body.writeUInt32BE(0x1234, 0); // xid
  body.writeUInt32BE(0, 4); // CALL
  body.writeUInt32BE(2, 8); // RPC version
  body.writeUInt32BE(100003, 12); // NFS
  body.writeUInt32BE(3, 16);
  const mark = Buffer.alloc(4);
  mark.writeUInt32BE((0x80000000 | body.length) >>> 0);
  return Buffer.concat([mark, body]);
})();
/** RDP: TPKT + COTP CR with the mstshash cookie and an RDP negotiation request. */
const rdpCr = (() => {
  const cookie = Buffer.from('Cookie: mstshash=admin\r\n');
  const neg = Buffer.from([0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]);
  const cotp = Buffer.concat([
    Buffer.from([6 + cookie.length + neg.length, 0xe0, 0, 0, 0, 0, 0]),
    cookie,
    neg,
  ]);
  const len = 4 + cotp.length;
  return Buffer.concat([Buffer.from([3, 0, len >> 8, len & 255]), cotp]);
})();

const CASES: Array<[number, Buffer, string, string]> = [
  [502, tlsHello, 'tls', 'modbus'],
  [20000, httpGet, 'http', 'dnp3'],
  [44818, dceBind, 'dcerpc', 'enip'],
  [2404, nfsNull, 'nfs', 'iec104'],
  [102, rdpCr, 'rdp', 's7comm'],
];

test('TLS, HTTP, DCE/RPC, NFS and RDP on the Modbus, DNP3, ENIP, IEC 104 and S7 ports raise protocol_mismatch', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-mismatch-'));
  try {
    const frames: Buffer[] = [];
    CASES.forEach(([port, payload], i) => {
      const f = new TcpFlow(
        { mac: '02:00:00:00:09:01', ip: '10.9.0.66', port: 50000 + i },
        { mac: '02:00:00:00:09:02', ip: '10.9.0.20', port },
      );
      frames.push(...f.handshake(), f.send(true, payload), f.send(true, payload));
    });
    const file = path.join(dir, 'mismatch.pcap');
    writeFileSync(file, pcap(frames));
    const ds = detectFile(file);
    const got = ds
      .filter((d) => d.type === 'protocol_mismatch')
      .map((d) => [d.evidence.fields.port, d.evidence.fields.found, d.protocol])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    assert.deepEqual(
      got,
      CASES.map(([port, , found, proto]) => [port, found, proto]).sort(
        (a, b) => Number(a[0]) - Number(b[0]),
      ),
    );
    for (const d of ds.filter((x) => x.type === 'protocol_mismatch')) {
      assert.equal(d.src, '10.9.0.66');
      assert.ok((d.evidence.fields.attack as string[]).includes('T0869'));
    }
    assert.equal(
      ds.filter((d) => d.type === 'malformed_pdu').length,
      0,
      'named, not just malformed',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
