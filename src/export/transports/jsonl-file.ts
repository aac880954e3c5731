import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import type { Link, Transport } from './transport.js';

export interface RotationLimits {
  /** A file is rotated before it would grow past this many bytes. */
  maxBytes: number;
  /** Rotated files kept (FILE.1 … FILE.N); older ones are removed. */
  keep: number;
}

export const DEFAULT_ROTATION: RotationLimits = { maxBytes: 64 * 2 ** 20, keep: 5 };

/**
 * JSON lines for a log shipper (Filebeat, Fluent Bit, Vector): one ECS document per line, synced to disk
 * before the queue moves on, rotated by size (FILE → FILE.1 → … → FILE.N), so disk use is bounded by
 * (N + 1) × maxBytes. A restart reads the last line written and resumes after it: nothing twice.
 */
export class JsonlFileTransport implements Transport {
  readonly settles = false;
  readonly label: string;

  constructor(
    private readonly path: string,
    private readonly limits: RotationLimits = DEFAULT_ROTATION,
  ) {
    this.label = `jsonl:${path}`;
    if (limits.maxBytes < 4096 || limits.keep < 1)
      throw new Error('JSON-lines rotation needs at least 4 KiB per file and one rotated file');
  }

  frame(message: string): Buffer {
    return Buffer.from(`${message}\n`, 'utf8');
  }

  lastWrittenId(): string | null {
    for (const f of [this.path, `${this.path}.1`]) {
      if (!existsSync(f) || statSync(f).size === 0) continue;
      const id = lastLineId(f);
      if (id !== undefined) return id;
    }
    return null;
  }

  connect(): Promise<Link> {
    let fd = openSync(this.path, 'a', 0o600);
    let size = fstatSync(fd).size;
    const rotate = (): void => {
      closeSync(fd);
      rmSync(`${this.path}.${this.limits.keep}`, { force: true });
      for (let k = this.limits.keep - 1; k >= 1; k--)
        if (existsSync(`${this.path}.${k}`))
          renameSync(`${this.path}.${k}`, `${this.path}.${k + 1}`);
      renameSync(this.path, `${this.path}.1`);
      fd = openSync(this.path, 'a', 0o600);
      size = 0;
    };
    const link: Link = {
      broken: null,
      write: (chunks, accepted) => {
        for (const c of chunks) {
          if (size > 0 && size + c.length > this.limits.maxBytes) {
            fsyncSync(fd);
            rotate();
          }
          writeSync(fd, c);
          size += c.length;
        }
        fsyncSync(fd);
        accepted();
        return Promise.resolve();
      },
      close: () => {
        closeSync(fd);
        return Promise.resolve();
      },
    };
    return Promise.resolve(link);
  }
}

/** The event.id of the last complete line of a file (undefined when none can be read). */
function lastLineId(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, 1 << 20);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    const lines = buf.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!.trim();
      if (l === '') continue;
      try {
        const doc = JSON.parse(l) as { event?: { id?: unknown } };
        if (typeof doc.event?.id === 'string') return doc.event.id;
      } catch {
        // A torn last line (power cut mid-write): the line before it is the last whole one.
      }
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
