// The per-message shortcuts of the dissect hot path (issue 18) must not change what is reported: protocol counts
// kept by slot, DNP3 user data copied into one reused buffer, BACnet and CIP fields built in one literal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { dnp3Tcp } from '../../src/dissect/protocols/dnp3.js';
import { bacnet } from '../../src/dissect/protocols/bacnet.js';
import { dissectCip } from '../../src/dissect/protocols/cip.js';
import { directOperate, linkFrame, segments } from '../fixtures-gen/dnp3-frames.js';
import { pduContext } from '../helpers/pdu-context.js';
import { repoRoot } from '../helpers/paths.js';

const fixtures = ['plant.pcap', 'identity.pcap', 'iec104-session.pcap'].map((f) =>
  path.join(repoRoot, 'fixtures', f),
);

test('stats.protocols counts every message, keyed in the order the protocols first appeared, whenever read', () => {
  const seen = new Map<string, number>();
  const p = new DissectPipeline([
    { onMessage: (m: Message) => void seen.set(m.protocol, (seen.get(m.protocol) ?? 0) + 1) },
  ]);
  let frames = 0;
  for (const f of fixtures)
    readCaptureSync(f, (fr) => {
      p.push(fr);
      // Read now and then while the run goes on: each read is up to date.
      if (++frames % 997 === 0) assert.deepEqual(Object.entries(p.stats.protocols), [...seen]);
    });
  assert.ok(seen.size >= 4, `protocols seen: ${[...seen.keys()].join(', ')}`);
  assert.deepEqual(Object.entries(p.stats.protocols), [...seen]);
  const total = [...seen.values()].reduce((a, b) => a + b, 0);
  assert.equal(p.stats.messages, total);
  // The same object on every read, as consumers that replace its anomaly record (shard workers) expect.
  assert.equal(p.stats, p.stats);
});

test('DNP3: a fragment joined across segments is unchanged by single-frame PDUs dissected between them', () => {
  const big = directOperate(Array.from({ length: 40 }, (_, i) => i)); // > 249 bytes: several segments
  const segs = segments(10, 1, big, 60);
  assert.ok(segs.length >= 3);
  const single = linkFrame(10, 1, Buffer.from([0xc5, 0xc1, 0x01, 0x3c, 0x02, 0x06]));
  const ctx = pduContext({ transport: 'tcp', dstPort: 20000 });
  const alone: Message[] = [];
  let st = dnp3Tcp.newState();
  for (const s of segs) dnp3Tcp.dissect(s, 0, s.length, ctx, true, alone, st);
  const mixed: Message[] = [];
  const other: Message[] = [];
  st = dnp3Tcp.newState();
  const st2 = dnp3Tcp.newState();
  for (const s of segs) {
    dnp3Tcp.dissect(s, 0, s.length, ctx, true, mixed, st);
    dnp3Tcp.dissect(single, 0, single.length, ctx, true, other, st2);
  }
  assert.equal(alone.length, 1);
  assert.deepEqual(mixed, alone);
  assert.equal(other.length, segs.length);
  assert.equal(other[0]!.funcName, 'READ');
  assert.deepEqual(Object.keys(alone[0]!.fields!), [
    'link_dir',
    'src_addr',
    'dst_addr',
    'transport_fin',
    'app_control',
    'fc_request',
  ]);
});

test('BACnet fields keep the order of the layers, with and without NPDU networks and a property', () => {
  const ctx = pduContext({ transport: 'udp', srcPort: 47808, dstPort: 47808 });
  const keys = (bytes: number[]): string[] => {
    const b = Uint8Array.from([0x81, 0x0a, 0, bytes.length + 4, ...bytes]);
    const out: Message[] = [];
    bacnet.dissect(b, 0, b.length, ctx, true, out);
    return Object.keys(out[0]!.fields!);
  };
  // ReadProperty of analog-input 1, property 85 (present-value): plain, then routed to and from network 5.
  const apdu = [0x00, 0x05, 0x01, 0x0c, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x19, 0x55];
  const obj = ['pdu_type', 'pdu_service', 'object_type', 'instance_number', 'property'];
  assert.deepEqual(keys([0x01, 0x04, ...apdu]), ['bvlc_function', ...obj]);
  assert.deepEqual(keys([0x01, 0x24, 0x00, 0x05, 0x00, 0xff, ...apdu]), [
    'bvlc_function',
    'dnet',
    ...obj,
  ]);
  assert.deepEqual(
    keys([0x01, 0x2c, 0x00, 0x05, 0x00, 0x00, 0x06, 0x06, ...[1, 2, 3, 4, 5, 6], 0xff, ...apdu]),
    ['bvlc_function', 'dnet', 'snet', ...obj],
  );
  // Without the property tag, and a Who-Is (no object).
  assert.deepEqual(keys([0x01, 0x0c, 0x00, 0x05, 0x00, ...apdu.slice(0, 9)]), [
    'bvlc_function',
    'snet',
    ...obj.slice(0, 4),
  ]);
  assert.deepEqual(keys([0x01, 0x00, 0x10, 0x08]), ['bvlc_function', 'pdu_type', 'pdu_service']);
});

test('CIP: class space names are the same text however often they are asked for', () => {
  const ctx = pduContext({ transport: 'tcp', dstPort: 44818 });
  const spaces: string[] = [];
  for (let i = 0; i < 3; i++)
    for (const path of [
      [0x20, 0x04, 0x24, 0x64],
      [0x20, 0x01, 0x24, 0x01, 0x30, 0x07],
    ]) {
      const b = Uint8Array.from([0x0e, path.length / 2, ...path]);
      const out: Message[] = [];
      dissectCip(b, 0, b.length, ctx, out);
      spaces.push(out[0]!.targets![0]!.space);
    }
  assert.deepEqual(spaces, [
    'class_0x4',
    'class_0x1/attr_7',
    'class_0x4',
    'class_0x1/attr_7',
    'class_0x4',
    'class_0x1/attr_7',
  ]);
});
