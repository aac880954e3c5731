// EtherNet/IP implicit I/O in the inventory (issue 17): each UDP 2222 datagram carries the interval its
// Forward_Open granted, and a datagram on an id no Forward_Open between the same hosts opened is an anomaly kind
// of the edge. Hosts whose connection was opened before the capture began are not flagged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { Inventory } from '../../src/discover/inventory.js';
import { enipIoSession, ioDatagram, OT_RPI, TO_RPI } from '../fixtures-gen/enip-io.js';
import { pcap, udp } from '../fixtures-gen/pcap-writer.js';

function run(bytes: Buffer): { inv: Inventory; io: Message[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-io-inv-'));
  try {
    const file = path.join(dir, 'io.pcap');
    writeFileSync(file, bytes);
    const inv = new Inventory();
    const io: Message[] = [];
    const p = new DissectPipeline({
      onPacket: (x) => inv.onPacket(x),
      onMessage: (m) => {
        inv.onMessage(m);
        if (m.funcName === 'IO') io.push({ ...m, fields: { ...m.fields } });
      },
    });
    readCaptureSync(file, (f) => p.push(f));
    return { inv, io };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('I/O datagrams carry their RPI; an id nobody opened between the same hosts is an anomaly kind', () => {
  const { inv, io } = run(enipIoSession());
  assert.equal(io.length, 7);
  assert.deepEqual(
    io.slice(0, 6).map((m) => m.fields!.rpi_us),
    [OT_RPI, TO_RPI, OT_RPI, TO_RPI, OT_RPI, TO_RPI],
  );
  assert.ok(io.slice(0, 6).every((m) => m.anomaly === null));
  assert.equal(io[6]!.anomaly?.kind, 'io_unknown_connection');
  assert.match(io[6]!.anomaly!.detail, /0x7eadbeef/);
  const edges = inv.snapshot().edges.filter((e) => e.port === 2222);
  assert.ok(
    edges.some((e) => e.anomalyKinds.includes('enip: io_unknown_connection')),
    JSON.stringify(edges.map((e) => e.anomalyKinds)),
  );
});

test('I/O between hosts whose Forward_Open predates the capture is not flagged', () => {
  const a = { mac: '02:00:00:00:2e:01', ip: '10.46.0.10', port: 2222 };
  const b = { mac: '02:00:00:00:2e:02', ip: '10.46.0.20', port: 2222 };
  const { io } = run(
    pcap([udp(a, b, ioDatagram(0x11, 1, [0, 0])), udp(b, a, ioDatagram(0x22, 1, [0]))]),
  );
  assert.equal(io.length, 2);
  assert.ok(io.every((m) => m.anomaly === null && m.fields!.rpi_us === undefined));
});
