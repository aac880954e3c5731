import { spawn } from 'node:child_process';
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
}

/** What tcpdump counted, from the statistics it prints on stderr when it stops (null when it printed none). */
export interface LiveCounters {
  /** Packets libpcap handed to tcpdump (all written to the pipe). */
  captured: number;
  /** Packets that passed the capture filter in the kernel. */
  receivedByFilter: number;
  /** Packets the kernel dropped because the capture ring was full: frames Weir never saw. */
  droppedByKernel: number;
}

export interface LiveSummary extends CaptureSummary {
  counters: LiveCounters | null;
}

/** tcpdump's closing statistics ("N packets captured", "N packets received by filter", "N packets dropped by kernel"). */
export function parseTcpdumpCounters(stderr: string): LiveCounters | null {
  const count = (what: string): number | null => {
    const m = new RegExp(`(\\d+) packets? ${what}`).exec(stderr);
    return m ? Number(m[1]) : null;
  };
  const captured = count('captured');
  const receivedByFilter = count('received by filter');
  const droppedByKernel = count('dropped by kernel');
  if (captured === null || receivedByFilter === null || droppedByKernel === null) return null;
  return { captured, receivedByFilter, droppedByKernel };
}

/** Kernel capture buffer (KiB): libpcap's 2 MiB default overflows in bursts while a busy core keeps the reader off it. */
export const CAPTURE_BUFFER_KIB = 32768;

/** tcpdump's arguments for Weir's live path: pcap to stdout, flushed per packet, a large kernel ring. */
export function tcpdumpArgs(
  iface: string,
  opts: Pick<LiveOptions, 'snapLen' | 'immediate' | 'bpf'> = {},
): string[] {
  const args = [
    '-i',
    iface,
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
  if (opts.bpf) args.push(...opts.bpf.split(/\s+/).filter(Boolean));
  return args;
}

/**
 * Live capture through tcpdump writing pcap to a pipe (-U flushes per packet, so detections are not held back
 * by buffering). Passive: tcpdump only listens; on a SPAN/mirror port promiscuous mode is what we want.
 * Resolves with the parser's summary and tcpdump's own counters, so frames the kernel dropped are counted.
 */
export function liveCapture(
  iface: string,
  sink: FrameSink,
  opts: LiveOptions = {},
): Promise<LiveSummary> {
  const args = tcpdumpArgs(iface, opts);
  const parser = new CaptureParser(sink);
  return new Promise((resolve, reject) => {
    const child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, 'tcpdump', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = ''; // the last 8 KiB: error messages, then the closing statistics
    let aborted = false;
    child.stdout.on('data', (b: Buffer) => {
      parser.feed(b);
      if (parser.stopped && !aborted) stop();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (stderr.length > 8192) stderr = stderr.slice(-8192);
    });
    const stop = () => {
      aborted = true;
      child.kill('SIGINT');
    };
    if (opts.signal) {
      if (opts.signal.aborted) stop();
      else opts.signal.addEventListener('abort', stop, { once: true });
    }
    child.on('error', (e) => reject(new Error(`cannot start tcpdump: ${e.message}`)));
    child.on('close', (code) => {
      opts.signal?.removeEventListener('abort', stop);
      const s = parser.end();
      // tcpdump stopped by us leaves no partial-record error worth reporting beyond what the parser saw.
      if (!aborted && code !== 0 && s.frames === 0)
        reject(new Error(`tcpdump on ${iface} failed: ${stderr.trim().split('\n').pop() ?? code}`));
      else resolve({ ...s, counters: parseTcpdumpCounters(stderr) });
    });
  });
}
