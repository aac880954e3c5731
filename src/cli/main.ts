#!/usr/bin/env node
import { buildProgram } from './program.js';

// A reader that goes away (`weir dissect x.pcap | head -1`) is the normal end of a pipeline, not a fault:
// stop quietly instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

buildProgram(process.argv)
  .then((program) => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    process.stderr.write(`weir: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
