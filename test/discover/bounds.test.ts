import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CaptureParser } from '../../src/capture/parser.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { mergeEdge } from '../../src/discover/merge.js';
import type { Edge } from '../../src/discover/model.js';
import { repoRoot } from '../helpers/paths.js';
import { spoofedSourcesPcap } from '../helpers/hostile-captures.js';

function feed(
  inv: Inventory,
  bytes: Uint8Array,
  chunk = bytes.length,
  between?: () => void,
): DissectPipeline {
  const p = new DissectPipeline({
    onPacket: (x) => inv.onPacket(x),
    onMessage: (m) => inv.onMessage(m),
  });
  const parser = new CaptureParser((f) => p.push(f));
  for (let o = 0; o < bytes.length; o += chunk) {
    parser.feed(bytes.subarray(o, o + chunk));
    between?.();
  }
  parser.end();
  return p;
}

test('beyond its asset and edge bounds the inventory tracks no new sender and counts each one turned away', () => {
  const inv = new Inventory({ maxAssets: 500, maxEdges: 300 });
  feed(inv, spoofedSourcesPcap(2000));
  assert.deepEqual(inv.size, { assets: 500, edges: 300 });
  const snap = inv.snapshot();
  assert.equal(snap.assets.length, 500);
  assert.equal(snap.edges.length, 300);
  assert.equal(inv.capped.assets_not_tracked, 1500);
  assert.equal(
    inv.capped.edges_not_tracked,
    200,
    'tracked senders whose edge found the table full',
  );
});

test('deltas taken while the capture runs add up to the whole, however often they are taken', () => {
  const bytes = readFileSync(path.join(repoRoot, 'fixtures/plant.pcap'));
  const whole = new Inventory();
  feed(whole, bytes);
  const want = whole.snapshot();
  const live = new Inventory();
  const edges = new Map<string, Edge>();
  const take = (): void => {
    for (const e of live.takeDelta().edges) {
      const had = edges.get(e.id);
      edges.set(e.id, had ? mergeEdge(had, e, {}) : e);
    }
  };
  feed(live, bytes, 4096, take);
  take();
  assert.equal(edges.size, want.edges.length);
  for (const e of want.edges) {
    const got = edges.get(e.id)!;
    assert.equal(got.packets, e.packets, e.id);
    assert.equal(got.requests, e.requests, e.id);
    assert.deepEqual(
      got.functions.map((f) => [f.func, f.count]),
      e.functions.map((f) => [f.func, f.count]),
      e.id,
    );
    const order = (ts: Edge['targets']) =>
      [...ts].sort((a, b) => `${a.space} ${a.access}`.localeCompare(`${b.space} ${b.access}`));
    assert.deepEqual(order(got.targets), order(e.targets), e.id);
  }
  assert.equal(live.takeDelta().edges.length, 0, 'nothing changed since the last take');
});

test('many TCP streams each holding a partial PDU: the reassembly buffers stay bounded and the drop is counted', () => {
  // 40k Modbus connections each send the first 7 bytes of a PDU and never the rest.
  const frames = spoofedSourcesPcap(40_000);
  const rec = 16 + 66;
  for (let i = 0; i < 40_000; i++) {
    const mb = 24 + i * rec + 16 + 14 + 20 + 20;
    frames.writeUInt16BE(200, mb + 4); // MBAP length beyond what follows: the PDU stays incomplete
  }
  const inv = new Inventory();
  const p = feed(inv, frames);
  const used = process.memoryUsage();
  assert.ok(used.heapUsed < 1.5 * 1024 ** 3);
  assert.ok((p.stats.capped.tcp_buffered_bytes ?? 0) > 0, JSON.stringify(p.stats.capped));
  assert.ok((p.stats.anomalies.tcp_reassembly_buffer_reset ?? 0) >= 1);
});
