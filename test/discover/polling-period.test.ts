// The polling period is read by selection, not a full sort (read-out cost, issue 18): it must give the values
// a sort of the same intervals gives, for every sample count, with ties, runs and adversarial orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PollTimer } from '../../src/discover/polling.js';
import { unitRng as rng } from '../helpers/rng.js';

/** The period as it was read: the last (up to) 256 intervals sorted, three ranks taken. */
function sortedPeriod(deltas: number[]): { median: number; iqr: number } | null {
  const recent = deltas.length <= 256 ? deltas : ring(deltas);
  const k = recent.length;
  if (k < 3) return null;
  const xs = [...recent].sort((a, b) => a - b);
  const q = (p: number): number => xs[Math.min(k - 1, Math.floor(p * (k - 1) + 0.5))]!;
  const r = (x: number): number => Math.round(x * 1e6) / 1e6;
  return { median: r(q(0.5)), iqr: r(q(0.75) - q(0.25)) };
}

/** The intervals a 256-slot ring holds after all of them were written. */
function ring(deltas: number[]): number[] {
  const slots: number[] = [];
  deltas.forEach((d, i) => (slots[i % 256] = d));
  return slots;
}

/** One signature polled at the given intervals: every interval is a sample. */
function check(intervals: number[], what: string): void {
  const t = new PollTimer();
  let ts = 1_700_000_000;
  t.request(7, ts);
  const seen: number[] = [];
  for (const d of intervals) {
    const prev = ts;
    ts += d;
    t.request(7, ts);
    seen.push(ts - prev); // the interval as the timer computes it, in floating point
    assert.deepEqual(t.period(), sortedPeriod(seen), `${what}, ${seen.length} samples`);
  }
}

test('polling period by selection equals the sorted reading: random, tied, sorted, reversed, organ-pipe intervals', () => {
  const r = rng(18);
  const cases: Array<[string, number[]]> = [
    ['random', Array.from({ length: 600 }, () => 0.001 + r() * 2)],
    ['few values (ties)', Array.from({ length: 600 }, () => [0.5, 1, 1, 2][Math.floor(r() * 4)]!)],
    ['one value', Array.from({ length: 300 }, () => 0.25)],
    ['rising', Array.from({ length: 300 }, (_, i) => 0.01 * (i + 1))],
    ['falling', Array.from({ length: 300 }, (_, i) => 0.01 * (300 - i))],
    ['organ pipe', Array.from({ length: 300 }, (_, i) => 0.01 * (1 + Math.min(i, 299 - i)))],
    ['jittered poll', Array.from({ length: 600 }, () => 1 + (r() - 0.5) * 0.01)],
  ];
  for (const [what, intervals] of cases) check(intervals, what);
});
