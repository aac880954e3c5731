import type { Message } from '../dissect/message.js';
import type { DissectLimits, DissectStats } from '../dissect/pipeline.js';
import type { EdgeRecord } from './edge-book.js';
import { copyAssetMessage, copyMessage } from './shard.js';
import { SlimReader, SlimWriter, slimIdentity, type SlimColumns } from './shard-slim.js';
import type { ChunkFrames, RouteRules } from './shard-index.js';

/** What a shard worker is started with. */
export interface ShardInit {
  shard: number;
  shards: number;
  /** This worker's part of the edge bound (the bounds hold for the whole run). */
  maxEdges: number;
  /** This worker's part of the EtherNet/IP I/O connection bound (IoConnections, io_timing's watches). */
  maxIoConnections: number;
  dissect: DissectLimits;
  /** Which server ends the main thread marks for this worker's table (a worker checks they are its own). */
  route: RouteRules;
  /** What the worker's own kind of run needs (the detect worker: its baseline and settings). */
  extra?: unknown;
}

/** A message for the asset half, with the frame whose dissection produced it (the order it is applied in). */
export interface TaggedMessage {
  f: number;
  m: Message;
}

/**
 * Main thread → shard worker. A chunk is the main thread's parse of a stretch of the capture: its frames and
 * per-frame columns (owner shard, server end), shared (not copied) between the workers.
 */
export type ToShard =
  | { t: 'file'; index: number }
  | { t: 'chunk'; k: number; frames: ChunkFrames }
  | { t: 'endFile' }
  | { t: 'finish' };

/** Shard worker → main thread. */
export type FromShard =
  | ({ t: 'chunk'; k: number } & ForwardedChunk)
  | { t: 'file'; stats: DissectStats; firsts: KeyFirsts; capped: Record<string, number> }
  | {
      t: 'edges';
      records: EdgeRecord[];
      /** From a worker thread: the records as JSON text instead (`records` then empty); see packEdges. */
      json?: string;
      cpu: number;
      startCpu: number;
      extra?: unknown;
    }
  | { t: 'error'; message: string };

/**
 * A worker's edge records for the trip to the main thread. Edge records hold only strings, finite numbers, null
 * and arrays and objects of them, so JSON text reads back equal, and writing and parsing it costs about half
 * their structured clone (1,000,000-frame input: 53 against 114 ms, most of it on the main thread as the pass
 * ends). Text that cannot be written (one string is capped at ~2^29 characters: tens of thousands of swept
 * edges with full function and range lists reach it; or a value JSON cannot carry) falls back to the clone, so
 * hostile traffic can make the hand-back slower, never fail the run.
 */
export function packEdges(
  records: EdgeRecord[],
  stringify: (v: unknown) => string = JSON.stringify,
): { records: EdgeRecord[]; json?: string } {
  try {
    return { records: [], json: stringify(records) };
  } catch {
    return { records };
  }
}

/** The records a shard handed back, as packEdges sent them. */
export function unpackEdges(got: { records: EdgeRecord[]; json?: string }): EdgeRecord[] {
  return got.json !== undefined ? (JSON.parse(got.json) as EdgeRecord[]) : got.records;
}

/** Per statistics key, the frame at which a shard first counted it (merged keys are listed in that order). */
export interface KeyFirsts {
  protocols: Record<string, number>;
  anomalies: Record<string, number>;
}

/**
 * A shard's anomaly counts that note each new kind's first frame (`frame()` at the time) in `firsts`:
 * anomalies are rare, so a trap on their counts costs nothing otherwise.
 */
export function anomalyCounts(firsts: KeyFirsts, frame: () => number): Record<string, number> {
  return new Proxy<Record<string, number>>(
    {},
    {
      set(target, key: string, value: number): boolean {
        if (!(key in target)) firsts.anomalies[key] ??= frame();
        target[key] = value;
        return true;
      },
    },
  );
}

/**
 * The messages a worker hands back for one chunk, in its order. Those the asset half reads slim (see
 * copyAssetMessage) travel as columns of numbers and string indexes (src/discover/shard-slim.ts), which the
 * threads write, clone and read far faster than JSON text or the structured clone of as many objects; the rest
 * (with fields that may hold bytes) are cloned, with their places in the list.
 */
export interface ForwardedChunk {
  slim: SlimColumns | null;
  full: TaggedMessage[];
  fullAt: number[];
}

export class Forwarded {
  /** `columns`: slim messages travel as columns (to another thread); else every message stays an object. */
  constructor(private readonly columns = true) {}

  private readonly slim = new SlimWriter();
  private full: TaggedMessage[] = [];
  private fullAt: number[] = [];
  private n = 0;

  /**
   * `slim`: the asset half reads no more of it than copyAssetMessage keeps. The message is read or copied now
   * (the pipeline reuses its message objects).
   */
  push(f: number, m: Message, slim: boolean): void {
    if (slim && this.columns && slimIdentity(m)) this.slim.push(f, m);
    else {
      this.full.push({ f, m: slim ? copyAssetMessage(m) : copyMessage(m) });
      this.fullAt.push(this.n);
    }
    this.n++;
  }

  take(): ForwardedChunk {
    const out: ForwardedChunk = {
      slim: this.slim.count === 0 ? null : this.slim.take(),
      full: this.full,
      fullAt: this.fullAt,
    };
    this.full = [];
    this.fullAt = [];
    this.n = 0;
    return out;
  }
}

/** One worker's messages of a chunk back in its order; `reader` keeps that worker's string table. */
export function unpackForwarded(c: ForwardedChunk, reader: SlimReader): TaggedMessage[] {
  const slim = c.slim === null ? [] : reader.read(c.slim);
  if (c.full.length === 0) return slim;
  const out: TaggedMessage[] = new Array(slim.length + c.full.length);
  let si = 0,
    fi = 0;
  for (let i = 0; i < out.length; i++)
    out[i] = fi < c.full.length && c.fullAt[fi] === i ? c.full[fi++]! : slim[si++]!;
  return out;
}
