import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import type { CaptureSummary, FrameSink } from './frame.js';
import { CaptureParser } from './parser.js';

/** Read size of the synchronous reader: large enough that per-chunk overhead vanishes. */
const CHUNK = 4 * 1024 * 1024;
/**
 * Read size of the streaming reader: each chunk is parsed in one synchronous turn, so a server following a
 * capture answers other requests between chunks (a few milliseconds each) however large the file.
 */
const STREAM_CHUNK = 256 * 1024;

export interface ReadOptions {
  onProgress?(bytesRead: number, totalBytes: number): void;
}

/** Stream a capture file (or stdin for '-') through the parser; resolves with the summary. */
export function readCapture(
  path: string,
  sink: FrameSink,
  opts: ReadOptions = {},
): Promise<CaptureSummary> {
  const parser = new CaptureParser(sink);
  const stream =
    path === '-' ? process.stdin : createReadStream(path, { highWaterMark: STREAM_CHUNK });
  let total = 0;
  if (path !== '-') {
    try {
      const fd = openSync(path, 'r');
      total = fstatSync(fd).size;
      closeSync(fd);
    } catch {
      /* reported by the stream */
    }
  }
  let read = 0;
  return new Promise((resolve, reject) => {
    let done = false;
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      read += b.length;
      parser.feed(b);
      opts.onProgress?.(read, total);
      if (parser.stopped && !done) {
        // Rejected or corrupt input: nothing more will be parsed, so stop reading (an endless pipe would never end).
        done = true;
        stream.off('data', onData);
        stream.destroy();
        resolve(parser.end());
      }
    };
    stream.on('data', onData);
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (!done)
        reject(new Error(`${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`));
    });
    stream.on('end', () => {
      if (!done) {
        done = true;
        resolve(parser.end());
      }
    });
  });
}

/** The same, synchronously, with one reused buffer: the fastest path for files (benchmarks, batch jobs). */
export function readCaptureSync(path: string, sink: FrameSink): CaptureSummary {
  const parser = new CaptureParser(sink);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(
      `${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  try {
    // One buffer, reused: the parser copies an unfinished record into its own carry before we read again.
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      parser.feed(buf.subarray(0, n));
      if (parser.stopped) break;
    }
  } finally {
    closeSync(fd);
  }
  return parser.end();
}
