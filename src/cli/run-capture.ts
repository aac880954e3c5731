import { statSync } from 'node:fs';
import { readCapture } from '../capture/source.js';
import { findCaptureHelper, liveCapture, type CaptureStatus } from '../capture/live.js';
import type { CaptureSummary } from '../capture/frame.js';
import { DissectPipeline, type DissectStats } from '../dissect/pipeline.js';
import { Stages, type Stage } from '../dissect/stage.js';
import { addCounts } from '../capture/counts.js';
import { cliSettings } from './settings.js';

export interface FileResult {
  source: string;
  summary: CaptureSummary;
  stats: DissectStats;
  firstTs: number | null;
  lastTs: number | null;
  /** What bounds cut short while reading, dissecting (and, added by the caller, folding) this capture. */
  capped: Record<string, number>;
}

export function fileResult(
  source: string,
  summary: CaptureSummary,
  stats: DissectStats,
  firstTs: number | null,
  lastTs: number | null,
): FileResult {
  return {
    source,
    summary,
    stats,
    firstTs,
    lastTs,
    capped: addCounts(addCounts({}, summary.capped), stats.capped),
  };
}

/** True when the input was not a capture at all (wrong format, empty): nothing of it was read. */
export function rejected(r: FileResult): boolean {
  const e = r.summary.error;
  return e !== null && e.byteOffset === 0 && e.framesBefore === 0;
}

/**
 * Run each capture through its own dissection pipeline (TCP state never crosses files) into the same stages,
 * then finish the stages once. A progress bar goes to stderr when it is a terminal and the input is large
 * enough to wait for.
 */
export async function runCaptures(
  files: string[],
  stages: Stage | readonly Stage[],
  opts: { progress?: boolean; afterFile?(r: FileResult): void; flushMs?: number } = {},
): Promise<FileResult[]> {
  const sizes = files.map((f) => (f === '-' ? 0 : safeSize(f)));
  const total = sizes.reduce((a, b) => a + b, 0);
  const showBar =
    (opts.progress ?? true) && process.stderr.isTTY === true && total > 8 * 1024 * 1024;
  // Loaded only when a bar is shown (a terminal and a large input): its module tree costs ~20 ms of start-up.
  const cliProgress = showBar ? (await import('cli-progress')).default : null;
  const bar = cliProgress
    ? new cliProgress.SingleBar(
        {
          format: 'reading {bar} {percentage}% | {value}/{total} MiB | {file}',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(Math.ceil(total / 1048576), 0, { file: '' });
  const results: FileResult[] = [];
  const fanout = new Stages(stages);
  const limits = cliSettings().dissect;
  const flusher = flushEvery(fanout, opts.flushMs);
  let done = 0;
  try {
    for (let i = 0; i < files.length; i++) {
      const source = files[i]!;
      let firstTs: number | null = null,
        lastTs: number | null = null;
      const pipeline = new DissectPipeline(fanout, limits);
      const summary = await readCapture(
        source,
        (frame) => {
          if (firstTs === null) firstTs = frame.ts;
          lastTs = frame.ts;
          pipeline.push(frame);
        },
        {
          onProgress: bar
            ? (read: number) => bar.update(Math.floor((done + read) / 1048576), { file: source })
            : undefined,
        },
      );
      done += sizes[i]!;
      const r = fileResult(source, summary, pipeline.stats, firstTs, lastTs);
      opts.afterFile?.(r);
      results.push(r);
    }
  } finally {
    bar?.stop();
    await flusher.stop();
  }
  await fanout.finish();
  return results;
}

function safeSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
}

/** Exit status when a capture stopped early (truncated or corrupt): its good frames were used (README, CLI). */
export const EXIT_CAPTURE_INCOMPLETE = 4;

/** Names of link types Weir does not dissect, for the warning (tcpdump.org/linktypes.html). */
const LINK_TYPE_NAMES: Record<number, string> = {
  6: 'Token Ring',
  9: 'PPP',
  10: 'FDDI',
  50: 'PPP over HDLC',
  104: 'Cisco HDLC',
  105: 'IEEE 802.11',
  107: 'Frame Relay',
  119: 'Prism 802.11',
  127: '802.11 radiotap',
  143: 'DOCSIS',
  147: 'user 0',
  148: 'user 1',
  187: 'Bluetooth HCI',
  189: 'USB Linux',
  195: 'IEEE 802.15.4',
  201: 'Bluetooth HCI with direction',
  220: 'USB Linux mmapped',
  227: 'CAN SocketCAN',
  249: 'netlink',
  253: 'Linux netlink',
};

/**
 * One line on stderr per capture that stopped early, naming where and why, and one per capture whose reading
 * a bound cut short, and one naming the link types it could not dissect. An input that was no capture at all
 * exits 1; one that stopped early exits EXIT_CAPTURE_INCOMPLETE (4) unless a command set another failure.
 */
export function warnCaptureErrors(results: FileResult[]): void {
  for (const r of results) {
    const e = r.summary.error;
    if (e && rejected(r)) {
      process.stderr.write(`weir: ${r.source}: not read: ${e.reason}\n`);
      process.exitCode = 1;
    } else if (e) {
      process.stderr.write(
        `weir: ${r.source}: stopped at byte ${e.byteOffset} after ${e.framesBefore} good frames: ${e.reason}\n`,
      );
      // The good frames were used, but the result covers only part of the capture: say so in the status.
      if (!process.exitCode) process.exitCode = EXIT_CAPTURE_INCOMPLETE;
    }
    const skipped = Object.entries(r.stats.anomalies)
      .filter(([k]) => k.startsWith('unsupported_link_type_'))
      .map(([k, n]) => {
        const t = Number(k.slice('unsupported_link_type_'.length));
        return `${n} of link type ${t}${LINK_TYPE_NAMES[t] ? ` (${LINK_TYPE_NAMES[t]})` : ''}`;
      });
    if (skipped.length)
      process.stderr.write(`weir: ${r.source}: frames not dissected: ${skipped.join(', ')}\n`);
    const capped = Object.entries(r.capped);
    if (capped.length)
      process.stderr.write(
        `weir: ${r.source}: bounds reached, not tracked: ${capped.map(([k, v]) => `${k}=${v}`).join(', ')}\n`,
      );
  }
}

/**
 * Follow live traffic on an interface until the duration ends or the user interrupts (Ctrl-C), then finish
 * the stages.
 */
export async function runLive(
  iface: string,
  stages: Stage | readonly Stage[],
  opts: {
    bpf?: string;
    seconds?: number;
    immediate?: boolean;
    flushMs?: number;
    /** Capture inside this network namespace. */
    netns?: string;
    /** Stops the capture too (a daemon stopping for its own reasons). */
    signal?: AbortSignal;
    /** Told the capture program and its counters (the dashboard shows them). */
    onStatus?: (s: CaptureStatus) => void;
  } = {},
): Promise<FileResult> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  opts.signal?.addEventListener('abort', stop, { once: true });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const timer = opts.seconds !== undefined ? setTimeout(stop, opts.seconds * 1000) : null;
  let firstTs: number | null = null,
    lastTs: number | null = null;
  const fanout = new Stages(stages);
  const pipeline = new DissectPipeline(fanout, cliSettings().dissect);
  const flusher = flushEvery(fanout, opts.flushMs);
  // Said once at the start: through tcpdump every frame costs a pipe write, so the sensor's ceiling is lower.
  if (findCaptureHelper() === null)
    process.stderr.write(
      `weir: live:${iface}: capturing through tcpdump (weir-capture not built: scripts/build-capture-helper.sh); ` +
        'one pipe write per frame lowers the rate the sensor keeps up with\n',
    );
  let stalled: number | null = null; // since when the capture program has stalled
  try {
    const summary = await liveCapture(
      iface,
      (frame) => {
        if (firstTs === null) firstTs = frame.ts;
        lastTs = frame.ts;
        pipeline.push(frame);
      },
      {
        bpf: opts.bpf,
        signal: ac.signal,
        immediate: opts.immediate,
        netns: opts.netns,
        user: cliSettings().capture.user,
        onStatus: (c) => {
          // A stall is said as it happens (the dashboard shows it from the status): detection is not running.
          if (c.state === 'stalled' && stalled === null) {
            stalled = Date.now();
            process.stderr.write(`weir: live:${iface}: warning: capture stalled: ${c.reason}\n`);
          } else if (c.state === 'running' && stalled !== null) {
            process.stderr.write(
              `weir: live:${iface}: capture running again after ${Math.round((Date.now() - stalled) / 1000)} s stalled\n`,
            );
            stalled = null;
          }
          opts.onStatus?.(c);
        },
      },
    );
    const r = fileResult(`live:${iface}`, summary, pipeline.stats, firstTs, lastTs);
    // The capture program left on its own (the interface went away): said, with its reason.
    if (summary.error)
      process.stderr.write(
        `weir: live:${iface}: capture stopped after ${summary.frames} frames: ${summary.error.reason}\n`,
      );
    // Frames lost before Weir saw them (the kernel's capture ring was full): said, never silent.
    const dropped = summary.counters?.droppedByKernel ?? 0;
    if (dropped > 0)
      process.stderr.write(
        `weir: live:${iface}: ${dropped} frames dropped by the kernel (capture ring full)\n`,
      );
    await flusher.stop();
    await fanout.finish();
    return r;
  } finally {
    await flusher.stop();
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    opts.signal?.removeEventListener('abort', stop);
  }
}

/**
 * While a run follows traffic, hand on what the stages accumulated every `ms` (stages without a flush are
 * not called; without `ms`, nothing is scheduled). Flushes never overlap; a failing one is reported, not fatal.
 * `stop` ends the schedule and waits for a flush under way, so the stages finish after their last flush.
 */
export function flushEvery(stages: Stages, ms: number | undefined): { stop(): Promise<void> } {
  if (ms === undefined || !stages.list.some((s) => s.flush !== undefined))
    return { stop: () => Promise.resolve() };
  let current: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (current !== null) return;
    current = Promise.resolve()
      .then(() => stages.flush())
      .catch((err: Error) => {
        process.stderr.write(`weir: flushing a stage failed: ${err.message}\n`);
      })
      .finally(() => {
        current = null;
      });
  }, ms);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await current;
    },
  };
}
