import { readSync } from 'node:fs';
import type { Frame } from '../capture/frame.js';
import { decodeFrame } from '../dissect/link.js';
import { newPacket, type Packet } from '../dissect/packet.js';
import { serverEndKey } from './edge-table.js';
import { isHostAddress } from './inventory.js';
import { pairHash, pairHash4, RawIpv4 } from './shard.js';

/**
 * One chunk of a sharded run as the main thread parsed it: the frames' bytes back to back and, per frame, where
 * it lies, its capture fields, the shard that owns it and the server end it newly shows (-1 for none). Both
 * live in SharedArrayBuffers that every worker reads without a copy; a worker walks the per-frame columns and
 * touches only its own frames' bytes, so no worker parses the capture or a foreign frame's header.
 */
export interface ChunkFrames {
  bytes: SharedArrayBuffer;
  index: SharedArrayBuffer;
  count: number;
  /** Frames the index has room for (its columns' length). */
  cap: number;
}

/** Bytes per frame in the index: ts, frame number, server end (f64); offset, capLen, origLen, link, iface (i32); owner (u8). */
const F64S = 3,
  I32S = 5,
  PER_FRAME = F64S * 8 + I32S * 4 + 1;

/** Typed views of a chunk's per-frame columns. */
export class ChunkView {
  readonly ts: Float64Array;
  readonly num: Float64Array;
  /** The server end (serverEndKey) this frame shows first in the run, else -1. */
  readonly server: Float64Array;
  readonly off: Int32Array;
  readonly cap: Int32Array;
  readonly orig: Int32Array;
  readonly link: Int32Array;
  readonly iface: Int32Array;
  readonly owner: Uint8Array;
  readonly data: Uint8Array;

  constructor(readonly c: ChunkFrames) {
    const n = c.cap;
    let o = 0;
    const f64 = (): Float64Array => {
      const a = new Float64Array(c.index, o, n);
      o += n * 8;
      return a;
    };
    const i32 = (): Int32Array => {
      const a = new Int32Array(c.index, o, n);
      o += n * 4;
      return a;
    };
    this.ts = f64();
    this.num = f64();
    this.server = f64();
    this.off = i32();
    this.cap = i32();
    this.orig = i32();
    this.link = i32();
    this.iface = i32();
    this.owner = new Uint8Array(c.index, o, n);
    this.data = new Uint8Array(c.bytes);
  }

  get count(): number {
    return this.c.count;
  }

  /** Point a (reused) Frame at frame `i` of the chunk. */
  frame(i: number, f: Frame): Frame {
    f.index = this.num[i]!;
    f.ts = this.ts[i]!;
    f.linkType = this.link[i]!;
    f.iface = this.iface[i]!;
    f.data = this.data;
    f.offset = this.off[i]!;
    f.capLen = this.cap[i]!;
    f.origLen = this.orig[i]!;
    return f;
  }
}

/** Which server ends the workers are told of, as the workers' own tables note them from foreign packets. */
export interface RouteRules {
  /** Only packets sent by a host (the inventory's edge half); the detection engine notes every packet. */
  hostsOnly: boolean;
  /** Only packets from this capture time on (detection's time slice); -Infinity for all. */
  from: number;
}

/** The inventory's edge half notes server ends from every host's packet. */
export const INVENTORY_ROUTE: RouteRules = { hostsOnly: true, from: -Infinity };

/** The detection engine notes server ends from every packet in its time slice. */
export function detectRoute(from: number): RouteRules {
  return { hostsOnly: false, from };
}

/** Entries of the recent-server-end cache in front of the set (a power of two). */
const RECENT = 1 << 12;

/**
 * The main thread's routing: each frame's shard (by the unordered IP address pair's hash; frames that are not
 * IP go to shard 0) and the server end its packet shows the first time in the run. `share0` is shard 0's
 * part of the address pairs when it is the main thread's own (which also keeps the asset half), else 1/n. The set of known server ends only grows and each
 * worker's table needs it as of every packet it looks up, so only a new one travels, at the frame showing it.
 */
export class Router {
  private readonly raw = new RawIpv4();
  private readonly pkt: Packet = newPacket();
  private readonly known = new Set<number>();
  // Most packets repeat a known server end: a direct-mapped cache saves the set lookup (which boxes the key).
  private readonly recent = new Float64Array(RECENT).fill(-1);
  owner = 0;
  server = -1;

  /** Pairs whose hash's top 16 bits fall below this go to shard 0 (weighted split); -1: hash mod n. */
  private readonly cut0: number;

  constructor(
    private readonly n: number,
    private readonly rules: RouteRules,
    share0?: number,
  ) {
    this.cut0 =
      share0 === undefined || n < 2 ? -1 : Math.round(Math.min(1, Math.max(0, share0)) * 65536);
  }

  /** Whether shard 0 gets address pairs (not when it is the main thread's at share 0: frames that are not IP only). */
  get shard0TakesPairs(): boolean {
    return this.cut0 !== 0;
  }

  private pick(h: number): number {
    if (this.n <= 1) return 0;
    if (this.cut0 < 0) return h % this.n;
    return h >>> 16 < this.cut0 ? 0 : 1 + ((h & 0xffff) % (this.n - 1));
  }

  route(f: Frame): void {
    const raw = this.raw;
    let k = -1;
    if (raw.parse(f)) {
      this.owner = this.pick(pairHash4(raw.src, raw.dst));
      if (!raw.fragment && (!this.rules.hostsOnly || raw.fromHost) && f.ts >= this.rules.from)
        k = serverEndKey(raw.src, raw.dst, raw.proto, raw.srcPort, raw.dstPort);
    } else {
      const p = this.pkt;
      decodeFrame(f, p);
      this.owner = p.ipVersion === 0 ? 0 : this.pick(pairHash(p));
      if (
        p.ipVersion === 4 &&
        !p.fragment &&
        (!this.rules.hostsOnly || isHostAddress(p)) &&
        f.ts >= this.rules.from
      )
        k = serverEndKey(p.srcIp4, p.dstIp4, p.ipProto, p.srcPort, p.dstPort);
    }
    this.server = k < 0 ? -1 : this.firstSight(k);
  }

  private firstSight(k: number): number {
    const h = (Math.imul((k / 65536) | 0, 0x9e3779b1) ^ (k & 0xffff)) >>> 20;
    if (this.recent[h] === k) return -1;
    this.recent[h] = k;
    if (this.known.has(k)) return -1;
    this.known.add(k);
    return k;
  }
}

/** Released buffers kept per kind: more than the chunks in flight (the workers run ahead by a few). */
const POOL = 32;

/** A released buffer of at least `size` bytes, else a new one (a little larger, so it serves later chunks). */
function take(free: SharedArrayBuffer[], size: number): SharedArrayBuffer {
  while (free.length > 0) {
    const b = free.pop()!;
    if (b.byteLength >= size) return b;
  }
  return new SharedArrayBuffer(size + (size >> 4));
}

/**
 * Writes a chunk's bytes and per-frame columns straight into shared memory on the main thread. The bytes are
 * the capture file's, copied once per chunk: the end of the previous chunk the parser had not parsed yet
 * (a record spanning the two, CaptureParser.pending) followed by this chunk, which is exactly the buffer the
 * parser reads that chunk's frames from, so a frame's offset there is its offset in shared memory. A frame
 * from anywhere else (never, with today's parser) is copied after it.
 */
export class ChunkBuilder {
  private bytesBuf = new SharedArrayBuffer(1);
  private bytes = new Uint8Array(this.bytesBuf);
  /** Length of the copied file bytes; frames copied one by one go after them. */
  private fileLen = 0;
  private used = 0;
  private n = 0;
  private cap = 0;
  private view: ChunkView | null = null;
  private lastCount = 1024;
  /** Shared memory of released chunks, to reuse. */
  private readonly freeBytes: SharedArrayBuffer[] = [];
  private readonly freeIndex: SharedArrayBuffer[] = [];

  /** Start a chunk: `pending` is what the parser still holds of the chunks before (CaptureParser.pending). */
  begin(chunk: Uint8Array, pending: number): void {
    this.start(pending, pending + chunk.length);
    this.bytes.set(chunk, pending);
  }

  /**
   * Start a chunk read from `fd` straight into shared memory (up to `size` bytes after the `pending` ones):
   * the bytes read, for the parser, or null at the end of the input. No stream buffer and no copy of them,
   * and the shared memory comes from chunks released before (release), so no fresh pages either.
   */
  read(fd: number, pending: number, size: number): Uint8Array | null {
    this.start(pending, pending + size);
    const n = readSync(fd, this.bytes, pending, size, null);
    this.fileLen = this.used = pending + n;
    return n === 0 ? null : this.bytes.subarray(pending, pending + n);
  }

  /** A chunk's shared memory, once every shard and the main thread are done with its frames, for a later one. */
  release(c: ChunkFrames): void {
    if (this.freeBytes.length < POOL) this.freeBytes.push(c.bytes);
    if (this.freeIndex.length < POOL) this.freeIndex.push(c.index);
  }

  /** The new chunk's bytes begin with the parser's `pending` of the last one; room for `room` bytes. */
  private start(pending: number, room: number): void {
    const prev = this.bytes,
      prevLen = this.fileLen;
    if (pending > prevLen)
      throw new Error('shard chunk: the parser holds bytes this builder never saw');
    this.bytesBuf = take(this.freeBytes, room);
    this.bytes = new Uint8Array(this.bytesBuf);
    if (pending > 0) this.bytes.set(prev.subarray(prevLen - pending, prevLen));
    this.fileLen = this.used = room;
    this.n = 0;
    this.view = this.columns(Math.max(1024, this.lastCount + (this.lastCount >> 2)));
  }

  add(f: Frame, owner: number, server: number): void {
    if (this.n === this.cap) this.grow();
    const v = this.view!;
    const i = this.n++;
    let off = f.offset;
    if (f.data.length !== this.fileLen) off = this.copy(f);
    v.ts[i] = f.ts;
    v.num[i] = f.index;
    v.server[i] = server;
    v.off[i] = off;
    v.cap[i] = f.capLen;
    v.orig[i] = f.origLen;
    v.link[i] = f.linkType;
    v.iface[i] = f.iface;
    v.owner[i] = owner;
  }

  /** A frame from a buffer laid out otherwise, copied after the file bytes; its offset there. */
  private copy(f: Frame): number {
    const off = this.used,
      len = f.capLen;
    if (off + len > this.bytes.length) {
      const b = new SharedArrayBuffer(Math.max(this.bytes.length * 2, off + len));
      new Uint8Array(b).set(this.bytes.subarray(0, off));
      this.bytesBuf = b;
      this.bytes = new Uint8Array(b);
    }
    this.bytes.set(f.data.subarray(f.offset, f.offset + len), off);
    this.used = off + len;
    return off;
  }

  get frames(): number {
    return this.n;
  }

  /** The chunk's frames, in shared memory. */
  take(): ChunkFrames {
    this.lastCount = this.n;
    return { bytes: this.bytesBuf, index: this.view!.c.index, count: this.n, cap: this.cap };
  }

  private columns(cap: number): ChunkView {
    this.cap = cap;
    const c: ChunkFrames = {
      bytes: this.bytesBuf,
      index: take(this.freeIndex, cap * PER_FRAME),
      count: cap,
      cap,
    };
    return new ChunkView(c);
  }

  private grow(): void {
    const old = this.view!;
    const v = (this.view = this.columns(this.cap * 2));
    v.ts.set(old.ts);
    v.num.set(old.num);
    v.server.set(old.server);
    v.off.set(old.off);
    v.cap.set(old.cap);
    v.orig.set(old.orig);
    v.link.set(old.link);
    v.iface.set(old.iface);
    v.owner.set(old.owner);
  }
}
