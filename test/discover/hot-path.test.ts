// The per-packet caches and tables of dissect + discover (issue 18) must give what the plain maps and lists they
// replace gave: each is checked here against a reference copy of the code before it, or against the rule it
// must keep (a cached same-port edge re-oriented once its server is known, a swept TCP stream not revived).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PollTimer } from '../../src/discover/polling.js';
import { RangeSet } from '../../src/discover/ranges.js';
import { EdgeTable, edgeId, type EdgeAddress } from '../../src/discover/edge-table.js';
import { serverIsDst } from '../../src/discover/services.js';
import { newPacket, type Packet } from '../../src/dissect/packet.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { U32Cache } from '../../src/dissect/u32-cache.js';
import { readCaptureSync } from '../../src/capture/source.js';
import type { Message } from '../../src/dissect/message.js';
import { DEFAULT_SETTINGS } from '../../src/settings/model.js';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unitRng as rng } from '../helpers/rng.js';

/** PollTimer as it was, on a Map: the reference for the open-addressing table. */
class MapPollTimer {
  private last: Map<number, number> | null = null;
  private deltas: Float64Array | null = null;
  private n = 0;
  private lastAny = -1;
  maxGap = 0;
  private firstSig = -1;
  private firstTs = 0;
  request(signature: number, ts: number): void {
    if (this.lastAny >= 0 && ts - this.lastAny > this.maxGap) this.maxGap = ts - this.lastAny;
    this.lastAny = ts;
    if (this.last === null) {
      if (this.firstSig === -1) {
        this.firstSig = signature;
        this.firstTs = ts;
        return;
      }
      this.last = new Map([[this.firstSig, this.firstTs]]);
    }
    const prev = this.last.get(signature);
    if (prev !== undefined) {
      const d = ts - prev;
      if (d > 0) (this.deltas ??= new Float64Array(256))[this.n++ % 256] = d;
    } else if (this.last.size >= 1024) this.last.clear();
    this.last.set(signature, ts);
  }
  period(): { median: number; iqr: number } | null {
    const k = Math.min(this.n, 256);
    if (k < 3 || this.deltas === null) return null;
    const xs = Array.from(this.deltas.subarray(0, k)).sort((a, b) => a - b);
    const q = (p: number) => xs[Math.min(k - 1, Math.floor(p * (k - 1) + 0.5))]!;
    const r = (x: number) => Math.round(x * 1e6) / 1e6;
    return { median: r(q(0.5)), iqr: r(q(0.75) - q(0.25)) };
  }
}

test('PollTimer: the signature table gives the periods and gaps of the Map it replaces, past its 1,024-signature reset too', () => {
  for (const [seed, sigs] of [
    [1, 3],
    [2, 40],
    [3, 3000],
  ] as const) {
    const r = rng(seed);
    const a = new PollTimer(),
      b = new MapPollTimer();
    let ts = 1_700_000_000;
    for (let i = 0; i < 20_000; i++) {
      // Signatures as the inventory builds them: protocol index and function above 2^24, start address below.
      const sig =
        (Math.floor(r() * 40) * 256 + Math.floor(r() * 256)) * 16777216 + Math.floor(r() * sigs);
      ts += r() < 0.1 ? 0 : r() * 0.5;
      a.request(sig, ts);
      b.request(sig, ts);
      if (i % 997 === 0) assert.deepEqual(a.period(), b.period(), `seed ${seed} at ${i}`);
    }
    assert.deepEqual(a.period(), b.period());
    assert.equal(a.maxGap, b.maxGap);
  }
});

/** RangeSet.add as it was, a linear search and a splice: the reference for the binary search. */
function refAdd(r: number[], start: number, count: number, max: number): boolean {
  if (count <= 0) return true;
  const end = start + count - 1;
  let i = 0;
  while (i < r.length && r[i + 1]! < start - 1) i += 2;
  let j = i,
    s = start,
    e = end;
  while (j < r.length && r[j]! <= end + 1) {
    if (r[j]! < s) s = r[j]!;
    if (r[j + 1]! > e) e = r[j + 1]!;
    j += 2;
  }
  if (j === i && r.length >= 2 * max) return false;
  r.splice(i, j - i, s, e);
  return true;
}

test('RangeSet: binary search and the no-op shortcut keep the ranges of the linear search, bound included', () => {
  for (const [seed, span, max] of [
    [7, 100, Infinity],
    [8, 5000, 64],
    [9, 1 << 22, 1024],
  ] as const) {
    const r = rng(seed);
    const set = new RangeSet(max);
    const ref: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const start = Math.floor(r() * span),
        count = r() < 0.05 ? 0 : 1 + Math.floor(r() * 8);
      assert.equal(set.add(start, count), refAdd(ref, start, count, max), `seed ${seed} add ${i}`);
    }
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < ref.length; i += 2) pairs.push([ref[i]!, ref[i + 1]!]);
    assert.deepEqual(set.toArray(), pairs);
  }
});

function packet(src: number, dst: number, proto: number, sp: number, dp: number): Packet {
  const p = newPacket();
  const text = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  p.ipVersion = 4;
  p.srcIp4 = src;
  p.dstIp4 = dst;
  p.srcIp = text(src);
  p.dstIp = text(dst);
  p.ipProto = proto;
  p.srcPort = sp;
  p.dstPort = dp;
  return p;
}

test('EdgeTable: cached lookups of many colliding flows name the edge the ports decide, both ways', () => {
  const table = new EdgeTable<EdgeAddress>((addr) => addr);
  const r = rng(11);
  const flows = Array.from({ length: 6000 }, () => ({
    src: (0xc0a80000 + Math.floor(r() * 65536)) >>> 0,
    dst: (0x0a000000 + Math.floor(r() * 65536)) >>> 0,
    sp: 1024 + Math.floor(r() * 60000),
    dp: [502, 102, 20000, 44818, 47808][Math.floor(r() * 5)]!,
    proto: r() < 0.5 ? 6 : 17,
  }));
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20_000; i++) {
      const f = flows[Math.floor(r() * flows.length)]!;
      const reply = r() < 0.5;
      const pkt = reply
        ? packet(f.dst, f.src, f.proto, f.dp, f.sp)
        : packet(f.src, f.dst, f.proto, f.sp, f.dp);
      const e = table.find(pkt, true)!;
      const transport = f.proto === 6 ? 'tcp' : 'udp';
      const toServer = serverIsDst(transport, pkt.srcPort, pkt.dstPort);
      assert.equal(table.toServer, toServer);
      assert.equal(
        e.id,
        toServer
          ? edgeId(pkt.srcIp, pkt.dstIp, transport, pkt.dstPort, f.proto)
          : edgeId(pkt.dstIp, pkt.srcIp, transport, pkt.srcPort, f.proto),
      );
    }
  }
});

test('EdgeTable: a cached same-port exchange is re-oriented once one end is seen serving that port', () => {
  const table = new EdgeTable<EdgeAddress>((addr) => addr);
  const a = 0x0a000009,
    b = 0x0a000002,
    c = 0x0a000030;
  // Neither end known as a server: the higher address serves, both ways (and the lookup is cached).
  for (let i = 0; i < 3; i++) {
    assert.equal(table.find(packet(a, b, 17, 47808, 47808), true)!.server, '10.0.0.9');
    assert.equal(table.toServer, false);
    assert.equal(table.find(packet(b, a, 17, 47808, 47808), true)!.server, '10.0.0.9');
    assert.equal(table.toServer, true);
  }
  // b answers a client on an ephemeral port: b serves 47808 from now on.
  table.find(packet(c, b, 17, 50000, 47808), true);
  const e = table.find(packet(a, b, 17, 47808, 47808), true)!;
  assert.equal(e.server, '10.0.0.2');
  assert.equal(e.client, '10.0.0.9');
  assert.equal(table.toServer, true);
  assert.equal(table.find(packet(b, a, 17, 47808, 47808), true), e);
  assert.equal(table.toServer, false);
});

test('U32Cache: a slot answers only for its own key, addresses above 2^31 included', () => {
  const c = new U32Cache<string>(4);
  assert.equal(c.get(0), undefined);
  const keys = [0, 1, 0xc0a80001, 0xffffffff, 0x80000000, 17, 33];
  for (const k of keys) c.set(k, `v${k}`);
  for (const k of keys) {
    const v = c.get(k);
    assert.ok(v === undefined || v === `v${k}`, `key ${k} gave ${v}`);
  }
  assert.equal(c.get(33), 'v33');
  c.clear();
  assert.equal(c.get(33), undefined);
});

test('pipeline: a TCP stream swept by a full stream table is not revived by the stream cache', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-hot-'));
  try {
    const client = { mac: '02:00:00:00:00:01', ip: '10.1.0.1', port: 40000 };
    const server = { mac: '02:00:00:00:00:02', ip: '10.1.0.2', port: 502 };
    const other = { mac: '02:00:00:00:00:03', ip: '10.1.0.3', port: 40001 };
    const f1 = new TcpFlow(client, server),
      f2 = new TcpFlow(other, server);
    // Modbus/TCP read holding registers, cut in two segments.
    const pdu = Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10]);
    const frames = [
      f1.send(true, pdu.subarray(0, 7)), // half a PDU held on stream 1
      f2.send(true, pdu.subarray(0, 7)), // a second stream: the one-stream table is reset, both forgotten
      f1.send(true, pdu.subarray(7)), // the rest of each, on new streams: no PDU start, so no message
      f2.send(true, pdu.subarray(7)), // (and a second reset)
      f1.send(true, pdu), // a whole PDU: one message
    ];
    const file = path.join(dir, 'sweep.pcap');
    writeFileSync(file, pcap(frames));
    const msgs: Array<[number, string]> = [];
    const p = new DissectPipeline(
      { onMessage: (m: Message) => msgs.push([m.frame, m.srcIp]) },
      { ...DEFAULT_SETTINGS.dissect, max_tcp_streams: 1 },
    );
    readCaptureSync(file, (f) => p.push(f));
    assert.equal(p.stats.anomalies.tcp_stream_table_reset, 2, JSON.stringify(p.stats));
    assert.deepEqual(msgs, [[5, '10.1.0.1']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
