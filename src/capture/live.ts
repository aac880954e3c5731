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
 */
export function liveCapture(
  iface: string,
  sink: FrameSink,
  opts: LiveOptions = {},
): Promise<CaptureSummary> {
  const args = tcpdumpArgs(iface, opts);
  const parser = new CaptureParser(sink);
  return new Promise((resolve, reject) => {
    const child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, 'tcpdump', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
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
      else resolve(s);
    });
  });
}
