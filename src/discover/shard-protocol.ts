import type { Message } from '../dissect/message.js';
import type { DissectLimits, DissectStats } from '../dissect/pipeline.js';
import type { EdgeRecord } from './edge-book.js';

/** What a shard worker is started with. */
export interface ShardInit {
  shard: number;
  shards: number;
  /** This worker's part of the edge bound (the bounds hold for the whole run). */
  maxEdges: number;
  dissect: DissectLimits;
  /** What the worker's own kind of run needs (the detect worker: its baseline and settings). */
  extra?: unknown;
}

/** A message for the asset half, with the frame whose dissection produced it (the order it is applied in). */
export interface TaggedMessage {
  f: number;
  m: Message;
}

/** Main thread → shard worker. Chunks are the capture's bytes, shared (not copied) between the workers. */
export type ToShard =
  | { t: 'file'; index: number }
  | { t: 'chunk'; k: number; buf: SharedArrayBuffer; len: number }
  | { t: 'endFile' }
  | { t: 'finish' };

/** Shard worker → main thread. */
export type FromShard =
  | { t: 'chunk'; k: number; msgs: TaggedMessage[] }
  | { t: 'file'; stats: DissectStats; firsts: KeyFirsts; capped: Record<string, number> }
  | { t: 'edges'; records: EdgeRecord[]; cpu: number; startCpu: number; extra?: unknown }
  | { t: 'error'; message: string };

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
