import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { NftTarget } from './nft.js';

/** A command nft answers on stdout without touching the kernel: marks the end of the previous command's output. */
const SENTINEL = 'describe meta mark';
const SENTINEL_OUT = /^meta expression, datatype mark/;
const COMMAND_TIMEOUT_MS = 5000;

interface Pending {
  cmd: string;
  /** The process the command was written to: only its answer or its end settles the command. */
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  resolve: (out: string) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One long-lived `nft -i` process: a command reaches the kernel in the time of a pipe write and one netlink
 * transaction (about a millisecond), not the tens of milliseconds of starting nft for each. Commands run one at
 * a time; each is followed by a sentinel whose answer closes its output, and an `Error:` line before the
 * sentinel is that command's failure (stdout and stderr share one pipe, so they stay in order).
 */
export class NftSession {
  private child: ChildProcessWithoutNullStreams | null = null;
  private buf = '';
  private readonly queue: Array<Omit<Pending, 'lines' | 'timer' | 'child'>> = [];
  private current: Pending | null = null;

  constructor(private readonly target: NftTarget) {}

  /** Run one nft command line; resolves with its output, rejects with nft's error. */
  run(cmd: string): Promise<string> {
    if (/[\n\r]/.test(cmd)) return Promise.reject(new Error('one nft command per call'));
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      this.pump();
    });
  }

  close(): void {
    const c = this.child;
    this.child = null;
    this.buf = '';
    if (c !== null) {
      c.stdin.end();
      c.kill('SIGTERM');
    }
  }

  private start(): ChildProcessWithoutNullStreams {
    // 2>&1 in the child keeps errors in order with the sentinel's answer.
    const nft = `exec nft -i 2>&1`;
    const c = this.target.netns
      ? spawn('ip', ['netns', 'exec', this.target.netns, 'sh', '-c', nft], {
          env: { ...process.env, TZ: 'UTC' },
        })
      : spawn('sh', ['-c', nft], { env: { ...process.env, TZ: 'UTC' } });
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (s: string) => {
      if (this.child === c) this.onData(s);
    });
    c.stderr.resume();
    c.stdin.on('error', () => {
      /* reported by close below */
    });
    c.on('error', (e) => {
      if (this.child === c) this.child = null;
      this.fail(c, new Error(`cannot run nft: ${e.message}`));
    });
    c.on('close', (code) => {
      if (this.child === c) this.child = null;
      this.fail(c, new Error(`nft exited (${code ?? 'signal'})`));
    });
    this.child = c;
    return c;
  }

  private pump(): void {
    if (this.current !== null || this.queue.length === 0) return;
    const next = this.queue.shift()!;
    const child = this.child ?? this.start();
    const timer = setTimeout(() => {
      this.close();
      this.fail(child, new Error(`nft did not answer within ${COMMAND_TIMEOUT_MS} ms`));
    }, COMMAND_TIMEOUT_MS);
    this.current = { ...next, child, lines: [], timer };
    child.stdin.write(`${next.cmd}\n${SENTINEL}\n`);
  }

  private onData(s: string): void {
    this.buf += s;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const cur = this.current;
      if (cur === null) continue;
      if (!SENTINEL_OUT.test(line)) {
        cur.lines.push(line);
        continue;
      }
      clearTimeout(cur.timer);
      this.current = null;
      const err = cur.lines.find((l) => l.startsWith('Error:'));
      if (err !== undefined) cur.reject(new Error(`nft: ${err.slice(7).trim()} (${cur.cmd})`));
      else cur.resolve(cur.lines.join('\n'));
      this.pump();
    }
  }

  /** Process `c` is gone: the command it was running fails; the queue goes on in a new process. */
  private fail(c: ChildProcessWithoutNullStreams, e: Error): void {
    const cur = this.current;
    if (cur === null || cur.child !== c) return;
    this.current = null;
    clearTimeout(cur.timer);
    cur.reject(e);
    setImmediate(() => this.pump());
  }
}
