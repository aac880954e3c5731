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
import { isGroupAddress } from '../../src/discover/io-connections.js';
import { enipIoSession, ioDatagram, OT_RPI, TO_RPI } from '../fixtures-gen/enip-io.js';
import { pcap, udp } from '../fixtures-gen/pcap-writer.js';
import { pcapAt } from '../fixtures-gen/enip-io-timing.js';
import { ioFrame, replyFrame } from '../helpers/enip-io-frames.js';

const T0 = 1_767_225_600;

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

test('I/O to a group ties to the latest Forward_Open of any originator; an O→T id two targets gave is two connections', () => {
  const scanner = '10.47.0.10',
    listener = '10.47.0.11',
    t1 = '10.47.1.1',
    t2 = '10.47.1.2',
    t3 = '10.47.1.3';
  const frames: Array<[number, Buffer]> = [
    [T0, replyFrame(scanner, t1, 0x20000001, 0x30000001, 10_000)],
    // A listen-only originator shares t1's multicast T→O connection; its grant (20 ms) is the latest.
    [T0 + 0.1, replyFrame(listener, t1, 0x21000001, 0x30000001, 20_000)],
    // t2 hands the scanner the same O→T id as t1 did; t3 other ids.
    [T0 + 0.2, replyFrame(scanner, t2, 0x20000001, 0x30000002, 40_000)],
    [T0 + 0.3, replyFrame(scanner, t3, 0x20000003, 0x30000003, 10_000)],
    [T0 + 1, ioFrame(t1, '239.192.1.1', 0x30000001, 1)],
    [T0 + 1.01, ioFrame(scanner, t1, 0x20000001, 1)],
    [T0 + 1.02, ioFrame(scanner, t2, 0x20000001, 1)],
    // The id t1 and t2 chose, but not t3: unknown there.
    [T0 + 1.03, ioFrame(scanner, t3, 0x20000001, 1)],
    // A group datagram on an id nobody opened: no Forward_Open is between a host and a group, so not flagged.
    [T0 + 1.04, ioFrame(t2, '239.192.1.2', 0x7eadbeef, 1)],
  ];
  const { io } = run(pcapAt(frames));
  assert.deepEqual(
    io.map((m) => [m.dstIp, m.fields!.rpi_us ?? null, m.anomaly?.kind ?? null]),
    [
      ['239.192.1.1', 20_000, null],
      [t1, 10_000, null],
      [t2, 40_000, null],
      [t3, null, 'io_unknown_connection'],
      ['239.192.1.2', null, null],
    ],
  );
});

test('group addresses: IPv4 multicast, the limited broadcast and IPv6 multicast; nothing else', () => {
  for (const ip of [
    '224.0.0.1',
    '239.192.1.1',
    '230.9.9.9',
    '255.255.255.255',
    'ff02::1',
    'ff15::9',
  ])
    assert.ok(isGroupAddress(ip), ip);
  for (const ip of [
    '223.255.255.255',
    '240.0.0.1',
    '10.0.0.255',
    '192.168.1.1',
    '2.2.2.2',
    '25.1.1.1',
    'fe80::1',
    '::1',
    'ff',
  ])
    assert.ok(!isGroupAddress(ip), ip);
});
