import type { Writable } from 'node:stream';

/** Batches output lines into large writes; stops quietly when the reader goes away (e.g. `| head`). */
export class LineWriter {
  private buf: string[] = [];
  private size = 0;
  private closed = false;

  constructor(private readonly stream: Writable) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') {
        this.closed = true;
        process.exit(0);
      }
      throw err;
    });
  }

  write(line: string): void {
    if (this.closed) return;
    this.buf.push(line);
    this.size += line.length;
    if (this.size > 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    this.stream.write(this.buf.join('\n') + '\n');
    this.buf = [];
    this.size = 0;
  }

  async end(): Promise<void> {
    this.flush();
    await new Promise<void>((resolve) => {
      if (this.stream.writableNeedDrain) this.stream.once('drain', () => resolve());
      else resolve();
    });
  }
}
