import { readSync } from 'node:fs';

/**
 * A password from standard input, for scripts and `printf … | weir …`: the first line, read up to its end only,
 * so a writer that keeps the pipe open does not hang the command.
 */
export function passwordFromStdin(): string {
  const buf = Buffer.alloc(512);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    text += buf.toString('utf8', 0, n);
    if (text.includes('\n')) break;
    if (text.length > 4096)
      throw new Error('the password on standard input is longer than 4096 characters');
  }
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line === '') throw new Error('no password on standard input');
  return line;
}

/** Ask on the terminal without echoing what is typed (written to stderr, so stdout stays clean). */
export function promptPassword(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY)
    return Promise.reject(new Error('no terminal to ask for a password on: use --password-stdin'));
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (err: Error | null): void => {
      input.setRawMode(false);
      input.pause();
      input.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null);
        if (ch === '\u0003') return done(new Error('interrupted'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else if (ch >= ' ') typed += ch;
      }
    };
    input.setRawMode(true); // before the prompt: keys typed as soon as it shows must not echo
    process.stderr.write(question);
    input.resume();
    input.on('data', onData);
  });
}
