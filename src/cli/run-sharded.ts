import { statSync } from 'node:fs';
import type { Message } from '../dissect/message.js';
import { Stages, type Stage } from '../dissect/stage.js';
import { ShardedRun } from '../discover/sharded.js';
import type { EdgeRecord } from '../discover/edge-book.js';
import type { RouteRules } from '../discover/shard-index.js';
import type { ShardCore } from '../discover/shard-core.js';
import type { ShardInit } from '../discover/shard-protocol.js';
import { fileResult, type FileResult } from './run-capture.js';
import { cliSettings } from './settings.js';

/**
 * runCaptures over `workers` threads sharded by address pair: the workers dissect and keep the edges, the
 * main thread's stages see every packet in order and, through `onMessage`, the messages the asset half reads.
 * Stages that want every message (the detection engine, a value recorder) cannot run here.
 */
export async function runShardedCaptures(
  files: string[],
  workers: number,
  stages: readonly Stage[],
  opts: {
    maxEdges: number;
    onMessage(m: Message): void;
    afterFile?(r: FileResult): void;
    /** The workers' module and what they start with (default: discovery's worker). */
    worker?: URL;
    extra?: unknown;
    /** Which server ends the workers' tables note (default: the inventory's). */
    route?: RouteRules;
    /** Shard 0 on the main thread (see ShardedRun): `workers` shards then take workers - 1 threads. */
    inline?: (init: ShardInit) => ShardCore;
  },
): Promise<{ results: FileResult[]; edges: EdgeRecord[][]; extras: unknown[] }> {
  const fanout = new Stages(stages);
  const run = new ShardedRun(workers, {
    maxEdges: opts.maxEdges,
    dissect: cliSettings().dissect,
    worker: opts.worker,
    extra: opts.extra,
    route: opts.route,
    inline: opts.inline,
  });
  const results: FileResult[] = [];
  let seen: Record<string, number> = {};
  try {
    for (const source of files) {
      const f = await run.runFile(source, {
        onPacket: (p) => fanout.onPacket(p),
        onMessage: opts.onMessage,
      });
      const r = fileResult(source, f.summary, f.stats, f.firstTs, f.lastTs);
      // What the workers' edge bounds turned away while reading this file (the main thread adds its own).
      const now = run.capped;
      for (const [k, v] of Object.entries(now))
        if (v > (seen[k] ?? 0)) r.capped[k] = (r.capped[k] ?? 0) + v - (seen[k] ?? 0);
      seen = now;
      opts.afterFile?.(r);
      results.push(r);
    }
    const edges = await run.finish();
    await fanout.finish();
    return { results, edges, extras: run.extras };
  } finally {
    await run.close();
  }
}

/**
 * The bounds ShardedRun splits between the shards (each holds its share): one thread's result can differ once
 * one was reached, so the caller reads the files again on one thread. Shares are rounded down, so one thread
 * reaching a bound means some shard reached its share: no shard capped, no bound of one thread's was reached.
 */
const SPLIT_BOUNDS = [
  'tcp_streams',
  'tcp_buffered_bytes',
  'edges_not_tracked',
  'io_connections',
  'io_watches',
  'udp_states',
] as const;

/** True when a sharded run reached a bound split between its shards (SPLIT_BOUNDS). */
export function boundsSplit(results: readonly FileResult[]): boolean {
  return results.some((r) => SPLIT_BOUNDS.some((k) => (r.capped[k] ?? 0) > 0));
}

/**
 * Whether the caller must read `files` again on one thread because the sharded result may differ from one
 * thread's (`differ`): only when they can be read twice (readableTwice); otherwise the sharded result stands,
 * and stderr says so.
 */
export function readAgainOnOneThread(differ: boolean, files: readonly string[]): boolean {
  if (!differ) return false;
  if (readableTwice(files)) return true;
  process.stderr.write(
    "weir: warning: the result may differ from one thread's: a bound was reached on input that cannot be read twice (standard input, a pipe or FIFO); give regular files, or --workers 1, for one thread's result\n",
  );
  return false;
}

/**
 * True when every input can be read a second time: regular files only. Standard input, a named FIFO (a second
 * open blocks until another writer comes) and a shell's `<(zcat x.gz)` (a drained pipe) cannot: there the
 * sharded result must stand.
 */
function readableTwice(files: readonly string[]): boolean {
  return files.every((f) => {
    if (f === '-') return false;
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

/** Worker threads from --workers, else the settings' dissect.workers. */
export function workerCount(flag: string | undefined): number {
  if (flag === undefined) return cliSettings().dissect.workers;
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--workers takes a positive whole number, not '${flag}'`);
  if (n > 64) throw new Error(`--workers takes at most 64, not '${flag}'`);
  return n;
}
