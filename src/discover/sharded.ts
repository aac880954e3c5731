import { closeSync, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CaptureParser } from '../capture/parser.js';
import type { CaptureSummary } from '../capture/frame.js';
import { addCounts } from '../capture/counts.js';
import { newFrame } from '../capture/frame.js';
import { decodeFrame } from '../dissect/link.js';
import { newPacket, type Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import {
  emptyDissectStats,
  MAX_UDP_STATES,
  type DissectLimits,
  type DissectStats,
} from '../dissect/pipeline.js';
import type { EdgeRecord } from './edge-book.js';
import { MAX_IO_CONNECTIONS } from './io-connections.js';
import type { ShardCore } from './shard-core.js';
import {
  unpackEdges,
  unpackForwarded,
  type FromShard,
  type ShardInit,
  type TaggedMessage,
  type ToShard,
} from './shard-protocol.js';
import { SlimReader } from './shard-slim.js';
import {
  ChunkBuilder,
  ChunkView,
  INVENTORY_ROUTE,
  Router,
  type ChunkFrames,
  type RouteRules,
} from './shard-index.js';

/** Bytes per chunk handed to the workers: large enough that the per-chunk round trip vanishes. */
const CHUNK = 1024 * 1024;
/**
 * Shard 0's part of the address pairs, times the shard count, when the main thread runs it: none. The main
 * thread reads and routes the capture, keeps the asset half (and the cross-flow detectors) and the read-out,
 * and dissects only the frames that are not IP. Any IP pair it dissected made its isolate optimise the
 * dissectors too, a second time beside the worker's: on the benchmark input 5% of the pairs on the main thread
 * cost 0.15–0.25 CPU s more than none (process CPU of 2 shards, discover 2.20 against 1.93 s, detect 1.96
 * against 1.83 s, though the worker then had less to do), and 15–20% as before 0.2–0.3 s more.
 */
const MAIN_SHARE = 0;
/** Chunks the workers may run ahead of the main thread (bounds the memory a fast reader holds). */
const AHEAD = 8;

/** What the main thread does with each frame and with the asset half's messages, in capture order. */
export interface MainHooks {
  onPacket(pkt: Packet): void;
  onMessage(m: Message): void;
}

export interface ShardedFile {
  summary: CaptureSummary;
  /** The dissection statistics of all shards, added up. */
  stats: DissectStats;
  firstTs: number | null;
  lastTs: number | null;
}

interface Pending {
  k: number;
  frames: ChunkFrames;
  replies: number;
  msgs: TaggedMessage[][];
  done: Promise<void>;
  resolve(): void;
}

/**
 * A capture run spread over worker threads by address pair (src/discover/shard-worker.ts). The main thread
 * reads and parses the capture, routes each frame (its owner shard, a server end it shows first) and shares
 * each chunk's frames and that index with every worker; a worker dissects its own frames and skips the others
 * unparsed. The main thread then walks the chunk, in order, for the asset half: every frame's header, and
 * between them the messages the workers dissected for that frame. Workers run ahead by up to AHEAD chunks; the
 * main thread waits for a chunk's messages before it walks the chunk, so the asset half sees packets and
 * messages in exactly the order one thread would.
 */
export class ShardedRun {
  private readonly workers: Worker[] = [];
  private readonly replies: ((m: FromShard, w: number) => void)[] = [];
  private failure: Error | null = null;
  private fail!: (e: Error) => void;
  private readonly failed: Promise<never>;
  /** Per worker: what its bounds turned away so far (cumulative). */
  private readonly edgeCapped: Record<string, number>[] = [];
  private fileIndex = 0;
  /** Shard 0 when it runs on the main thread. */
  private inline: ShardCore | null = null;
  /** Per shard: the string table of the slim messages it sent (kept across chunks and files). */
  private readonly readers: SlimReader[] = [];
  /** Routes every frame; knows the server ends shown so far in the whole run (the workers' tables keep them). */
  private readonly router: Router;
  /** CPU seconds each worker thread used (known after finish; -1 where not measurable). */
  workerCpu: number[] = [];
  /** CPU seconds each worker had used by the first capture: its start-up (loading modules). */
  workerStartCpu: number[] = [];

  /** What each worker handed back at the end beside its edges (the detect worker: its detections). */
  extras: unknown[] = [];

  /**
   * `worker`: the worker's module (default: discovery's, src/discover/shard-worker.ts); `extra`: what it is
   * started with beside its shard and bounds.
   */
  constructor(
    readonly n: number,
    opts: {
      maxEdges: number;
      dissect: DissectLimits;
      worker?: URL;
      extra?: unknown;
      /** Which server ends the workers' tables note (default: the inventory's, every host from the start). */
      route?: RouteRules;
      /**
       * Run shard 0 on the main thread with this core (DiscoverShard, DetectShard) instead of on a worker:
       * `n` shards then take n - 1 worker threads, and the main thread, which keeps the asset half too, gets
       * `mainShare` of the address pairs (default MAIN_SHARE / n: none, only the frames that are not IP).
       */
      inline?: (init: ShardInit) => ShardCore;
      mainShare?: number;
    },
  ) {
    const route = opts.route ?? INVENTORY_ROUTE;
    this.router = new Router(
      n,
      route,
      opts.inline !== undefined ? (opts.mainShare ?? MAIN_SHARE / n) : undefined,
    );
    this.failed = new Promise<never>((_, reject) => {
      this.fail = (e) => {
        if (this.failure === null) this.failure = e;
        reject(e);
      };
    });
    this.failed.catch(() => undefined);
    // Each bound holds for the whole run: every shard that takes address pairs gets its share, rounded down, so
    // that whenever one thread's table would overflow (more than v held at once: the shards together hold the
    // same) some shard's overflows too and says so in `capped`; the caller then runs the file on one thread
    // (boundsSplit). Shard 0 at share 0 (the CLI's) sees no IP frame, so it holds no stream and no edge.
    const pairShards = this.router.shard0TakesPairs ? n : n - 1;
    const share = (v: number, i: number): number =>
      i === 0 && pairShards < n ? 1 : Math.max(1, Math.floor(v / pairShards));
    for (let i = 0; i < n; i++) {
      this.edgeCapped.push({});
      this.readers.push(new SlimReader());
      const init: ShardInit = {
        shard: i,
        shards: n,
        maxEdges: share(opts.maxEdges, i),
        maxIoConnections: share(MAX_IO_CONNECTIONS, i),
        dissect: {
          ...opts.dissect,
          max_tcp_streams: share(opts.dissect.max_tcp_streams, i),
          max_reassembly_bytes: share(opts.dissect.max_reassembly_bytes, i),
          max_udp_states: share(opts.dissect.max_udp_states ?? MAX_UDP_STATES, i),
        },
        route,
        extra: opts.extra,
      };
      if (i === 0 && opts.inline !== undefined) {
        this.inline = opts.inline(init);
        continue;
      }
      const w = new Worker(opts.worker ?? new URL('./shard-worker.js', import.meta.url), {
        workerData: init,
      });
      w.on('message', (m: FromShard) => {
        if (m.t === 'error') this.fail(new Error(`shard worker ${i}: ${m.message}`));
        else this.replies[i]?.(m, i);
      });
      w.on('error', (e) => this.fail(new Error(`shard worker ${i}: ${e.message}`)));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`shard worker ${i} exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  /** What the workers' bounds turned away so far (edges, TCP state), added up. */
  get capped(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.edgeCapped) addCounts(out, c);
    return out;
  }

  private post(msg: ToShard): void {
    for (const w of this.workers) w.postMessage(msg);
    if (this.inline === null) return;
    // Shard 0 on this thread: its answer arrives as a worker's would, once the workers have their work.
    let r: FromShard | null;
    try {
      r = this.inline.handle(msg);
    } catch (e) {
      const err = new Error(`shard 0 (main thread): ${(e as Error).message}`);
      this.fail(err);
      throw err;
    }
    if (r !== null) this.replies[0]?.(r, 0);
  }

  /** Wait for one reply of each worker, of the kind `pick` accepts. */
  private gather<T>(pick: (m: FromShard) => T | undefined): Promise<T[]> {
    const got: T[] = new Array(this.n);
    let left = this.n;
    return Promise.race([
      this.failed,
      new Promise<T[]>((resolve) => {
        for (let i = 0; i < this.n; i++)
          this.replies[i] = (m, w) => {
            const v = pick(m);
            if (v === undefined) return;
            got[w] = v;
            if (--left === 0) resolve(got);
          };
      }),
    ]);
  }

  /** One capture file ('-' for stdin) through the shards; the main hooks see every frame in order. */
  async runFile(source: string, hooks: MainHooks): Promise<ShardedFile> {
    if (this.failure) throw this.failure;
    this.post({ t: 'file', index: this.fileIndex++ });
    const pending = new Map<number, Pending>();
    const readers = this.readers;
    for (let i = 0; i < this.n; i++)
      this.replies[i] = (m) => {
        if (m.t !== 'chunk') return;
        const p = pending.get(m.k);
        if (p === undefined) return;
        p.msgs.push(unpackForwarded(m, readers[i]!));
        if (++p.replies === this.n) p.resolve();
      };

    const pkt = newPacket();
    const frame = newFrame();
    const router = this.router;
    const builder = new ChunkBuilder();
    let firstTs: number | null = null,
      lastTs: number | null = null;
    const parser = new CaptureParser((f) => {
      if (firstTs === null) firstTs = f.ts;
      lastTs = f.ts;
      router.route(f);
      builder.add(f, router.owner, router.server);
    });
    const walk = async (p: Pending): Promise<void> => {
      await Promise.race([this.failed, p.done]);
      pending.delete(p.k);
      // One frame belongs to one worker: sorting by frame (stable) interleaves the workers' lists in capture order.
      const queue = p.msgs.length === 1 ? p.msgs[0]! : p.msgs.flat().sort((a, b) => a.f - b.f);
      let qi = 0;
      const v = new ChunkView(p.frames);
      for (let i = 0, n = v.count; i < n; i++) {
        decodeFrame(v.frame(i, frame), pkt);
        hooks.onPacket(pkt);
        // This frame's messages, dissected by the worker that owns its address pair.
        while (qi < queue.length && queue[qi]!.f <= frame.index) hooks.onMessage(queue[qi++]!.m);
      }
      // Every shard answered for this chunk and the walk is over: its memory serves a later chunk.
      builder.release(p.frames);
    };

    const order: Pending[] = [];
    let k = 0;
    // One chunk parsed, routed and handed to the shards; the oldest walked once the shards ran AHEAD.
    const send = async (): Promise<void> => {
      const frames = builder.take();
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const p: Pending = { k, frames, replies: 0, msgs: [], done, resolve };
      pending.set(k, p);
      order.push(p);
      this.post({ t: 'chunk', k, frames });
      k++;
      if (order.length > AHEAD) await walk(order.shift()!);
    };
    if (source === '-') {
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        if (parser.stopped) break;
        builder.begin(chunk, parser.pending);
        parser.feed(chunk);
        if (builder.frames > 0) await send();
      }
    } else {
      // A file: read straight into the chunks' shared memory, reused once a chunk is walked.
      let fd: number;
      try {
        fd = openSync(source, 'r');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT') throw new Error(`${source}: no such file`);
        throw e;
      }
      try {
        for (;;) {
          if (parser.stopped) break;
          const chunk = builder.read(fd, parser.pending, CHUNK);
          if (chunk === null) break;
          parser.feed(chunk);
          if (builder.frames > 0) await send();
        }
      } finally {
        closeSync(fd);
      }
    }
    while (order.length > 0) await walk(order.shift()!);
    const summary = parser.end();
    const files = this.gather((m) => (m.t === 'file' ? m : undefined));
    this.post({ t: 'endFile' });
    const stats = emptyDissectStats();
    const got = await files;
    got.forEach((f, i) => {
      addStats(stats, f.stats);
      this.edgeCapped[i] = f.capped;
    });
    // Keys in the order one pipeline would have counted them first.
    stats.protocols = inFirstOrder(
      stats.protocols,
      got.map((f) => f.firsts.protocols),
    );
    stats.anomalies = inFirstOrder(
      stats.anomalies,
      got.map((f) => f.firsts.anomalies),
    );
    return { summary, stats, firstTs, lastTs };
  }

  /** The edge records of every shard; the workers end. */
  async finish(): Promise<EdgeRecord[][]> {
    if (this.failure) throw this.failure;
    const edges = this.gather((m) => (m.t === 'edges' ? m : undefined));
    this.post({ t: 'finish' });
    const got = await edges;
    const threads = this.inline === null ? got : got.slice(1);
    this.workerCpu = threads.map((g) => g.cpu);
    this.workerStartCpu = threads.map((g) => g.startCpu);
    this.extras = got.map((g) => g.extra);
    const out = got.map(unpackEdges);
    await this.close();
    return out;
  }

  /** End the workers (also after a failure). */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.removeAllListeners('exit').terminate()));
  }
}

function addStats(into: DissectStats, s: DissectStats): void {
  into.frames += s.frames;
  into.ipPackets += s.ipPackets;
  into.tcpSegments += s.tcpSegments;
  into.udpDatagrams += s.udpDatagrams;
  into.messages += s.messages;
  addCounts(into.protocols, s.protocols);
  addCounts(into.anomalies, s.anomalies);
  addCounts(into.capped, s.capped);
}

/** The counts with their keys listed by the frame that first counted them (ties: the first shard's order). */
function inFirstOrder(
  counts: Record<string, number>,
  firsts: Record<string, number>[],
): Record<string, number> {
  const at = (k: string): number => {
    let f = Infinity;
    for (const x of firsts) if (x[k] !== undefined && x[k]! < f) f = x[k]!;
    return f;
  };
  const out: Record<string, number> = {};
  for (const k of Object.keys(counts).sort((a, b) => at(a) - at(b))) out[k] = counts[k]!;
  return out;
}
