import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A named FIFO in `dir` that a separate writer process fills with `data` once a reader opens it, then closes: what
 * `mkfifo p; zcat x.pcap.gz > p &` gives. A second open for reading blocks until another writer comes (none does).
 * `written` settles when the writer has exited; `stop` ends a writer still waiting for a reader.
 */
export function fedFifo(
  dir: string,
  name: string,
  data: Buffer,
): { path: string; written: Promise<void>; stop(): void } {
  const src = path.join(dir, `${name}.src`);
  writeFileSync(src, data);
  const fifo = path.join(dir, name);
  execFileSync('mkfifo', [fifo]);
  const w = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', src, fifo], { stdio: 'ignore' });
  const written = new Promise<void>((resolve, reject) => {
    w.on('error', reject);
    w.on('close', () => resolve());
  });
  return {
    path: fifo,
    written,
    stop: () => {
      if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    },
  };
}
