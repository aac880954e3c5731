import { readCaptureSync } from '../capture/source.js';

/**
 * A point in time given on the command line: ISO 8601 ('2026-11-24T14:00:00Z'), epoch seconds, or a
 * percentage of the captures' time span ('50%', files only: they are scanned once for their first and last frame).
 */
export function parseTimeArg(value: string, files: string[]): number {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (pct) {
    if (files.includes('-')) throw new Error('a percentage time needs capture files, not stdin');
    let first = Infinity,
      last = -Infinity;
    for (const f of files)
      readCaptureSync(f, (fr) => {
        if (fr.ts < first) first = fr.ts;
        if (fr.ts > last) last = fr.ts;
      });
    if (!Number.isFinite(first)) throw new Error('the captures hold no frames');
    return first + ((last - first) * Number(pct[1])) / 100;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new Error(`not a time: "${value}" (use ISO 8601, epoch seconds, or N%)`);
  return t / 1000;
}
