import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CaptureParser } from '../../src/capture/parser.js';
import { newFrame, type Frame } from '../../src/capture/frame.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import {
  ChunkBuilder,
  ChunkView,
  INVENTORY_ROUTE,
  Router,
  type ChunkFrames,
} from '../../src/discover/shard-index.js';
import { ShardedRun } from '../../src/discover/sharded.js';
import type { ShardCore } from '../../src/discover/shard-core.js';
import { DEFAULT_SETTINGS } from '../../src/settings/model.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

interface Seen {
  index: number;
  ts: number;
  linkType: number;
  iface: number;
  origLen: number;
  bytes: string;
}

const seen = (f: Frame): Seen => ({
  index: f.index,
  ts: f.ts,
  linkType: f.linkType,
  iface: f.iface,
  origLen: f.origLen,
  bytes: Buffer.from(f.data.subarray(f.offset, f.offset + f.capLen)).toString('hex'),
});

/** Every frame as the main thread's chunks carry it, the file cut into chunks of the sizes `size` draws. */
function throughChunks(file: string, size: () => number): Seen[] {
  const buf = readFileSync(file);
  const builder = new ChunkBuilder();
  const parser = new CaptureParser((f) => builder.add(f, 0, -1));
  const chunks: ChunkFrames[] = [];
  for (let o = 0; o < buf.length; ) {
    const chunk = buf.subarray(o, Math.min(buf.length, o + size()));
    o += chunk.length;
    builder.begin(chunk, parser.pending);
    parser.feed(chunk);
    if (builder.frames > 0) chunks.push(builder.take());
  }
  parser.end();
  const out: Seen[] = [];
  const f = newFrame();
  for (const c of chunks) {
    const v = new ChunkView(c);
    for (let i = 0; i < v.count; i++) out.push(seen(v.frame(i, f)));
  }
  return out;
}

test('chunk columns: every frame and its capture fields as the parser delivers them, whatever the chunk boundaries', () => {
  const files = [plant, sharedCapture('iti/beckoff__addroute1.pcapng')].filter(
    (f): f is string => f !== null,
  );
  for (const file of files) {
    const direct: Seen[] = [];
    readCaptureSync(file, (f) => direct.push(seen(f)));
    assert.ok(direct.length > 50);
    // Records spanning two chunks, and many (chunks smaller than a record header); a fixed seed.
    let s = 7;
    const rnd = (n: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return 1 + (s % n);
    };
    for (const size of [() => 1 << 20, () => rnd(4096), () => rnd(40), () => 3])
      assert.deepEqual(throughChunks(file, size), direct, path.basename(file));
  }
});

/**
 * Every frame as the main thread reads a file into the chunks' shared memory (ChunkBuilder.read), `size` bytes
 * at a time, each chunk read `ahead` chunks later and then released for reuse, as ShardedRun walks them.
 */
function throughReads(file: string, size: number, ahead: number): Seen[] {
  const builder = new ChunkBuilder();
  const parser = new CaptureParser((f) => builder.add(f, 0, -1));
  const out: Seen[] = [];
  const f = newFrame();
  const queue: ChunkFrames[] = [];
  const walk = (c: ChunkFrames): void => {
    const v = new ChunkView(c);
    for (let i = 0; i < v.count; i++) out.push(seen(v.frame(i, f)));
    builder.release(c);
  };
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const chunk = builder.read(fd, parser.pending, size);
      if (chunk === null) break;
      parser.feed(chunk);
      if (builder.frames > 0) queue.push(builder.take());
      if (queue.length > ahead) walk(queue.shift()!);
    }
  } finally {
    closeSync(fd);
  }
  while (queue.length > 0) walk(queue.shift()!);
  parser.end();
  return out;
}

test('chunk columns read from a file into reused shared memory: every frame as the parser delivers it', () => {
  const files = [plant, sharedCapture('iti/beckoff__addroute1.pcapng')].filter(
    (f): f is string => f !== null,
  );
  for (const file of files) {
    const direct: Seen[] = [];
    readCaptureSync(file, (f) => direct.push(seen(f)));
    for (const [size, ahead] of [
      [1 << 20, 8],
      [4096, 0],
      [4096, 3],
      [333, 1],
      [40, 2],
    ] as const)
      assert.deepEqual(throughReads(file, size, ahead), direct, `${path.basename(file)} ${size}`);
  }
});

test('chunk columns: a frame from a buffer laid out otherwise is copied after the file bytes, not misread', () => {
  const builder = new ChunkBuilder();
  const chunk = new Uint8Array(64).fill(1);
  builder.begin(chunk, 0);
  const f = newFrame();
  f.index = 9;
  f.data = Uint8Array.from([0, 0, 5, 6, 7, 8]);
  f.offset = 2;
  f.capLen = 4;
  f.origLen = 60;
  builder.add(f, 1, -1);
  const v = new ChunkView(builder.take());
  const g = v.frame(0, newFrame());
  assert.deepEqual([...g.data.subarray(g.offset, g.offset + g.capLen)], [5, 6, 7, 8]);
  assert.equal(g.origLen, 60);
  assert.equal(v.owner[0], 1);
});

test('chunk columns: a parser holding bytes the builder never saw is refused, not read from the wrong place', () => {
  const builder = new ChunkBuilder();
  assert.throws(() => builder.begin(new Uint8Array(10), 5), /never saw/);
});

test('routing: the main thread share puts every IP pair on shard 0 or none; a server end travels once', () => {
  const frames: { f: Frame; ip: boolean }[] = [];
  const pkt = newPacket();
  readCaptureSync(plant, (f) => {
    const copy = { ...f, data: f.data.slice(f.offset, f.offset + f.capLen), offset: 0 };
    decodeFrame(copy, pkt);
    frames.push({ f: copy, ip: pkt.ipVersion !== 0 });
  });
  const owners = (n: number, share?: number): number[] => {
    const r = new Router(n, INVENTORY_ROUTE, share);
    return frames.map(({ f }) => (r.route(f), r.owner));
  };
  const ipOwners = (o: number[]): Set<number> => new Set(o.filter((_, i) => frames[i]!.ip));
  assert.deepEqual([...ipOwners(owners(3, 0))].sort(), [1, 2]);
  assert.deepEqual([...ipOwners(owners(3, 1))], [0]);
  assert.deepEqual([...ipOwners(owners(2))].sort(), [0, 1]);
  // Frames that are not IP stay on shard 0 (the layer-2 messages are about assets).
  const o = owners(3, 0);
  assert.ok(frames.some((x, i) => !x.ip && o[i] === 0));
  assert.ok(frames.every((x, i) => x.ip || o[i] === 0));
  // Server ends: each at most once, and a repeat of the same frame shows nothing new.
  const r = new Router(2, INVENTORY_ROUTE);
  const keys: number[] = [];
  for (const { f } of frames) {
    r.route(f);
    if (r.server >= 0) keys.push(r.server);
  }
  assert.ok(keys.length > 0);
  assert.equal(new Set(keys).size, keys.length);
  for (const { f } of frames) {
    r.route(f);
    assert.equal(r.server, -1);
  }
});

test('a failing shard on the main thread ends the run with its error, not a hang', async () => {
  const failing = (): ShardCore => ({
    handle(msg) {
      if (msg.t === 'chunk') throw new Error('disk on fire');
      return null;
    },
  });
  const run = new ShardedRun(2, {
    maxEdges: DEFAULT_SETTINGS.inventory.max_edges,
    dissect: DEFAULT_SETTINGS.dissect,
    inline: failing,
  });
  try {
    await assert.rejects(
      run.runFile(plant, { onPacket: () => undefined, onMessage: () => undefined }),
      /shard 0 \(main thread\): disk on fire/,
    );
  } finally {
    await run.close();
  }
});
