import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SETTINGS } from '../settings/model.js';
import type { CaptureSummary, FrameSink } from './frame.js';
import { CaptureParser } from './parser.js';

export interface LiveOptions {
  /** Capture filter (BPF syntax), e.g. 'tcp port 502'. */
  bpf?: string;
  /** Abort to stop capturing; the promise then resolves with what was read. */
  signal?: AbortSignal;
  /** Snap length; default captures whole frames. */
  snapLen?: number;
  /** Capture inside this network namespace (`ip netns exec`), e.g. a lab or a container's namespace. */
  netns?: string;
  /**
   * Hand each packet over as it arrives (tcpdump --immediate-mode) instead of when the kernel's capture block
   * fills or its timeout (up to a second) runs out: what an automatic response needs; costs a wake-up per packet.
   */
  immediate?: boolean;
  /**
   * Which program captures: 'weir-capture' (Weir's libpcap helper, one pipe write per captured batch), 'tcpdump'
   * (-U: one write per packet), or 'auto' (default: the helper when it was built, else tcpdump).
   */
  helper?: CaptureHelper;
  /**
   * The user the capture program becomes once the interface is open, when Weir runs as root (settings'
   * capture.user; default there). A Weir that is not root keeps its user; weir-capture drops every capability.
   */
  user?: string;
  /** Told which program captures, at start, then of its counters every COUNTERS_EVERY_S, and at the end. */
  onStatus?: (s: CaptureStatus) => void;
}

/**
 * What a sensor shows of its capture: the program, once it has counted its counters, and its state: 'running',
 * 'stalled' (the program is there but its running counters stopped coming for STALL_AFTER_S: frozen by
 * SIGSTOP, or stuck), or 'stopped' (its last word: the reason when Weir did not ask for the stop).
 */
export interface CaptureStatus {
  program: 'weir-capture' | 'tcpdump';
  counters: LiveCounters | null;
  /** Always set by liveCapture; a record without it (an older node's) reads as 'running'. */
  state?: CaptureState;
  /** Why it stalled or stopped (absent while running). */
  reason?: string;
}

export type CaptureState = 'running' | 'stalled' | 'stopped';

export type CaptureHelper = 'auto' | 'weir-capture' | 'tcpdump';

/**
 * What the capture helper counted, from the statistics it prints on stderr when it stops (tcpdump's wording,
 * which weir-capture copies; null when it printed none).
 */
export interface LiveCounters {
  /** Packets libpcap handed to the helper (all written to the pipe). */
  captured: number;
  /** Packets that passed the capture filter in the kernel. */
  receivedByFilter: number;
  /** Packets the kernel dropped because the capture ring was full: frames Weir never saw. */
  droppedByKernel: number;
  /** Packets the interface (its driver, its NIC) dropped before the kernel saw them. */
  droppedByInterface: number;
}

export interface LiveSummary extends CaptureSummary {
  counters: LiveCounters | null;
  /** The program that captured. */
  helper: 'weir-capture' | 'tcpdump';
}

/** tcpdump's closing statistics ("N packets captured", "N packets received by filter", "N packets dropped by kernel"). */
export function parseTcpdumpCounters(stderr: string): LiveCounters | null {
  // The last of each: tcpdump's running lines (SIGUSR1) come before its closing statistics.
  const count = (what: string): number | null => {
    const all = [...stderr.matchAll(new RegExp(`(\\d+) packets? ${what}`, 'g'))];
    return all.length > 0 ? Number(all.at(-1)![1]) : null;
  };
  const captured = count('captured');
  const receivedByFilter = count('received by filter');
  const droppedByKernel = count('dropped by kernel');
  if (captured === null || receivedByFilter === null || droppedByKernel === null) return null;
  // Printed only when not zero, by tcpdump and weir-capture alike.
  return {
    captured,
    receivedByFilter,
    droppedByKernel,
    droppedByInterface: count('dropped by interface') ?? 0,
  };
}

/** weir-capture's counters line while it runs ("weir-capture: counters captured=N received=N dropped=N ifdropped=N"). */
const COUNTERS_LINE =
  /^weir-capture: counters captured=(\d+) received=(\d+) dropped=(\d+) ifdropped=(\d+)$/;
/** tcpdump's line on SIGUSR1 ("tcpdump: N packets captured, N packets received by filter, N packets dropped by kernel"). */
const TCPDUMP_LINE =
  /^tcpdump: (\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel(?:, (\d+) packets? dropped by interface)?$/;

/** The counters of one running line of either program, or null. */
export function parseCountersLine(line: string): LiveCounters | null {
  const m = COUNTERS_LINE.exec(line) ?? TCPDUMP_LINE.exec(line);
  return m
    ? {
        captured: Number(m[1]),
        receivedByFilter: Number(m[2]),
        droppedByKernel: Number(m[3]),
        droppedByInterface: Number(m[4] ?? 0),
      }
    : null;
}

/**
 * How often (s) the running counters come: weir-capture prints them itself (a getsockopt, so every second is
 * free); tcpdump is asked with SIGUSR1 once it listens (its handler is set by then).
 */
export const COUNTERS_EVERY_S = 1;

/** A live capture whose running counters stopped coming for this long (three of their periods) has stalled. */
export const STALL_AFTER_S = 3 * COUNTERS_EVERY_S;

/**
 * A capture program that has not said it listens this long after it was started is stuck opening the interface
 * (or frozen before it got there): shown stalled, not running. Longer than STALL_AFTER_S: starting a process
 * in a namespace and activating a ring takes seconds on a loaded sensor.
 */
export const STARTING_STALL_AFTER_S = 10;

/** What weir-capture and tcpdump say that is not a reason for stopping: counters and their start-up line. */
const NOT_A_REASON = [
  /^\d+ packets? /,
  COUNTERS_LINE,
  TCPDUMP_LINE,
  /^(weir-capture|tcpdump): listening on /,
  /^tcpdump: (verbose output suppressed|data link type)/,
];

/**
 * Why a capture program Weir did not stop ended: the signal that killed it (it could say nothing), else its
 * last line that is not counters, else its exit code.
 */
export function stopReason(
  stderr: string,
  code: number | null,
  signal: NodeJS.Signals | null,
): string {
  // SIGSYS: weir-capture made a system call its confinement forbids (a bug, or an exploit of its parsing).
  if (signal === 'SIGSYS')
    return 'killed by SIGSYS: a system call outside its allow-list (seccomp confinement)';
  if (signal !== null) return `killed by ${signal}`;
  const said = stderr
    .trim()
    .split('\n')
    .filter((l) => l !== '' && !NOT_A_REASON.some((re) => re.test(l)))
    .pop();
  // tcpdump's -Z with an account that is missing: say how to make it, as weir-capture does.
  const user = said !== undefined ? /^tcpdump: Couldn't find user '([^']+)'/.exec(said) : null;
  if (user)
    return `${said} (capture.user; create it: adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin ${user[1]}, as scripts/install-deps.sh and the Debian package do)`;
  if (said !== undefined) return said;
  return code === 0 ? 'exited (code 0) without being asked to stop' : `exit ${code}`;
}

/** Kernel capture buffer (KiB): libpcap's 2 MiB default overflows in bursts while a busy core keeps the reader off it. */
export const CAPTURE_BUFFER_KIB = 32768;

/**
 * tcpdump's arguments for Weir's live path: pcap to stdout, flushed per packet, a large kernel ring, and (when
 * started as root) the user it becomes once the interface is open (-Z).
 */
export function tcpdumpArgs(
  iface: string,
  opts: Pick<LiveOptions, 'snapLen' | 'immediate' | 'bpf' | 'user'> = {},
): string[] {
  const args = [
    '-i',
    iface,
    '-Z',
    opts.user ?? DEFAULT_SETTINGS.capture.user,
    '-U',
    '-n',
    '-B',
    String(CAPTURE_BUFFER_KIB),
    '-w',
    '-',
    '-s',
    String(opts.snapLen ?? 0),
  ];
  if (opts.immediate) args.push('--immediate-mode');
  // After `--`: a filter's words are never read as options (a filter "-Z root" would change the user).
  if (opts.bpf) args.push('--', ...opts.bpf.split(/\s+/).filter(Boolean));
  return args;
}

/**
 * The longest a captured frame waits in the kernel's ring before weir-capture hands it on (libpcap's buffer
 * timeout): bounds a lone frame's delay on a quiet link while letting a busy one go out in batches.
 */
export const HELPER_TIMEOUT_MS = 100;

/**
 * weir-capture's arguments: the same capture as tcpdumpArgs (whole frames, 32 MiB ring, promiscuous, -Z), and
 * its counters every COUNTERS_EVERY_S.
 */
export function helperArgs(
  iface: string,
  opts: Pick<LiveOptions, 'snapLen' | 'immediate' | 'bpf' | 'user'> = {},
): string[] {
  const args = ['-i', iface, '-Z', opts.user ?? DEFAULT_SETTINGS.capture.user];
  args.push('-s', String(opts.snapLen ?? 0), '-B', String(CAPTURE_BUFFER_KIB));
  args.push('-t', String(HELPER_TIMEOUT_MS), '-S', String(COUNTERS_EVERY_S));
  if (opts.immediate) args.push('-I');
  // After `--`: a filter's words are never read as options (a filter "-Z root" would change the user).
  if (opts.bpf) args.push('--', ...opts.bpf.split(/\s+/).filter(Boolean));
  return args;
}

/**
 * Where weir-capture is: $WEIR_CAPTURE_HELPER, else bin/weir-capture of this install (the repository's bin/ when
 * built by scripts/build-capture-helper.sh, /usr/lib/weir/bin in the Debian package). Null when not executable.
 */
export function findCaptureHelper(env: NodeJS.ProcessEnv = process.env): string | null {
  const path = captureHelperPath(env);
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

/** Where weir-capture is looked for (`weir doctor` checks it there), executable or not. */
export function captureHelperPath(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.WEIR_CAPTURE_HELPER || fileURLToPath(new URL('../../../bin/weir-capture', import.meta.url))
  );
}

/** The program and arguments of a live capture: weir-capture when asked for or found, tcpdump otherwise. */
export function captureCommand(
  iface: string,
  opts: Pick<LiveOptions, 'snapLen' | 'immediate' | 'bpf' | 'helper' | 'user'> = {},
): { program: string; args: string[]; name: 'weir-capture' | 'tcpdump' } {
  const want = opts.helper ?? 'auto';
  if (want !== 'tcpdump') {
    const helper = findCaptureHelper();
    if (helper) return { program: helper, args: helperArgs(iface, opts), name: 'weir-capture' };
    if (want === 'weir-capture')
      throw new Error('weir-capture is not built (scripts/build-capture-helper.sh)');
  }
  return { program: 'tcpdump', args: tcpdumpArgs(iface, opts), name: 'tcpdump' };
}

/**
 * Live capture through a helper writing pcap to a pipe: weir-capture (src/capture/weir-capture.c) flushes once
 * per batch libpcap hands over, at most HELPER_TIMEOUT_MS after a frame arrived; tcpdump, the fallback, flushes
 * per packet (-U). Either way detections are not held back by buffering on a quiet link. Passive: the helper
 * only listens; on a SPAN/mirror port promiscuous mode is what we want. Resolves with the parser's summary and
 * the helper's own counters, so frames the kernel dropped are counted. A helper that stops by itself after
 * frames came (the interface went away) resolves with the summary's error naming why: the run stopped early.
 */
export function liveCapture(
  iface: string,
  sink: FrameSink,
  opts: LiveOptions = {},
): Promise<LiveSummary> {
  let cmd: ReturnType<typeof captureCommand>;
  try {
    cmd = captureCommand(iface, opts);
  } catch (e) {
    return Promise.reject(e);
  }
  const { program, args, name } = cmd;
  const parser = new CaptureParser(sink);
  return new Promise((resolve, reject) => {
    const child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, program, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = ''; // the last 8 KiB: error messages, then the closing statistics
    let line = ''; // the stderr line being received, for the running counters
    let aborted = false;
    let ask: NodeJS.Timeout | null = null; // tcpdump's counters, asked for every COUNTERS_EVERY_S
    // The stall watch: from the program's first sign of listening, its counters come every COUNTERS_EVERY_S.
    let lastSign: number | null = null;
    let last: LiveCounters | null = null;
    let state: CaptureState = 'running';
    const tell = (st: CaptureState, counters: LiveCounters | null, reason?: string) => {
      state = st;
      opts.onStatus?.({
        program: name,
        counters,
        state: st,
        ...(reason !== undefined ? { reason } : {}),
      });
    };
    const started = Date.now();
    let lastTick = started;
    const watch = setInterval(() => {
      const now = Date.now();
      // A late tick means Weir itself was busy (its event loop blocked): the program's counters may be waiting
      // in the pipe behind this timer. Read them first (the next tick), rather than call the program stalled.
      const late = now - lastTick > 1000;
      lastTick = now;
      if (late || state !== 'running') return;
      if (lastSign === null) {
        const waited = (now - started) / 1000;
        if (waited >= STARTING_STALL_AFTER_S)
          tell(
            'stalled',
            null,
            `${name} has not started listening after ${Math.floor(waited)} s (stuck opening the interface, or frozen): frames are not being captured`,
          );
        return;
      }
      const quiet = (now - lastSign) / 1000;
      if (quiet >= STALL_AFTER_S)
        tell(
          'stalled',
          last,
          `no counters from ${name} for ${Math.floor(quiet)} s while it runs (frozen or stuck): frames are not being captured`,
        );
    }, 250);
    tell('running', null);
    child.stdout.on('data', (b: Buffer) => {
      parser.feed(b);
      if (parser.stopped && !aborted) stop();
    });
    child.stderr.on('data', (b: Buffer) => {
      const text = b.toString();
      stderr += text;
      if (stderr.length > 8192) stderr = stderr.slice(-8192);
      const lines = (line + text).split('\n');
      line = lines.pop()!.slice(-1024);
      for (const l of lines) {
        const counters = parseCountersLine(l);
        if (counters) {
          lastSign = Date.now();
          last = counters;
          tell('running', counters);
        } else if (/^(weir-capture|tcpdump): listening on /.test(l)) {
          lastSign = Date.now();
          if (state === 'stalled') tell('running', last); // late, but listening now
          if (name === 'tcpdump' && ask === null)
            ask = setInterval(() => child.kill('SIGUSR1'), COUNTERS_EVERY_S * 1000);
        }
      }
    });
    const stop = () => {
      aborted = true;
      child.kill('SIGINT');
    };
    if (opts.signal) {
      if (opts.signal.aborted) stop();
      else opts.signal.addEventListener('abort', stop, { once: true });
    }
    child.on('error', (e) => {
      clearInterval(watch);
      if (ask !== null) clearInterval(ask);
      reject(new Error(`cannot start ${name}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(watch);
      if (ask !== null) clearInterval(ask);
      opts.signal?.removeEventListener('abort', stop);
      const s = parser.end();
      const counters = parseTcpdumpCounters(stderr);
      // Any end Weir did not ask for is an early stop, whatever the exit code: a capture program that another
      // process stopped (even cleanly, with exit 0) means detection stopped, and must never read as finished.
      const said = aborted ? undefined : stopReason(stderr, code, signal);
      tell('stopped', counters ?? last, said);
      if (said !== undefined && s.frames === 0)
        reject(new Error(`${name} on ${iface} failed: ${said}`));
      else if (said !== undefined && s.error === null)
        resolve({
          ...s,
          error: {
            reason: `${name} stopped: ${said.replace(/^weir-capture: /, '')}`,
            byteOffset: s.bytes,
            framesBefore: s.frames,
          },
          counters,
          helper: name,
        });
      else resolve({ ...s, counters, helper: name });
    });
  });
}
