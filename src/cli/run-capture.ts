import { statSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { readCapture } from '../capture/source.js';
import { liveCapture } from '../capture/live.js';
import type { CaptureSummary } from '../capture/frame.js';
import { DissectPipeline, type DissectStats, type PipelineHooks } from '../dissect/pipeline.js';

export interface FileResult {
  source: string;
  summary: CaptureSummary;
  stats: DissectStats;
  firstTs: number | null;
  lastTs: number | null;
}

/**
 * Run each capture through its own dissection pipeline (TCP state never crosses files) into the same hooks.
 * A progress bar goes to stderr when it is a terminal and the input is large enough to wait for.
 */
export async function runCaptures(files: string[], hooks: PipelineHooks, opts: { progress?: boolean } = {}): Promise<FileResult[]> {
  const sizes = files.map((f) => (f === '-' ? 0 : safeSize(f)));
  const total = sizes.reduce((a, b) => a + b, 0);
  const showBar = (opts.progress ?? true) && process.stderr.isTTY === true && total > 8 * 1024 * 1024;
  const bar = showBar
    ? new cliProgress.SingleBar({ format: 'reading {bar} {percentage}% | {value}/{total} MiB | {file}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(Math.ceil(total / 1048576), 0, { file: '' });
  const results: FileResult[] = [];
  let done = 0;
  try {
    for (let i = 0; i < files.length; i++) {
      const source = files[i]!;
      let firstTs: number | null = null, lastTs: number | null = null;
      const pipeline = new DissectPipeline(hooks);
      const summary = await readCapture(source, (frame) => {
        if (firstTs === null) firstTs = frame.ts;
        lastTs = frame.ts;
        pipeline.push(frame);
      }, {
        onProgress: bar ? (read: number) => bar.update(Math.floor((done + read) / 1048576), { file: source }) : undefined,
      });
      done += sizes[i]!;
      results.push({ source, summary, stats: pipeline.stats, firstTs, lastTs });
    }
  } finally {
    bar?.stop();
  }
  return results;
}

function safeSize(f: string): number {
  try { return statSync(f).size; } catch { return 0; }
}

/** One line on stderr per capture that stopped early, naming where and why. */
export function warnCaptureErrors(results: FileResult[]): void {
  for (const r of results) {
    const e = r.summary.error;
    if (e) process.stderr.write(`weir: ${r.source}: stopped at byte ${e.byteOffset} after ${e.framesBefore} good frames: ${e.reason}\n`);
  }
}

/** Follow live traffic on an interface until the duration ends or the user interrupts (Ctrl-C). */
export async function runLive(iface: string, hooks: PipelineHooks, opts: { bpf?: string; seconds?: number } = {}): Promise<FileResult> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const timer = opts.seconds !== undefined ? setTimeout(stop, opts.seconds * 1000) : null;
  let firstTs: number | null = null, lastTs: number | null = null;
  const pipeline = new DissectPipeline(hooks);
  try {
    const summary = await liveCapture(iface, (frame) => {
      if (firstTs === null) firstTs = frame.ts;
      lastTs = frame.ts;
      pipeline.push(frame);
    }, { bpf: opts.bpf, signal: ac.signal });
    return { source: `live:${iface}`, summary, stats: pipeline.stats, firstTs, lastTs };
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
