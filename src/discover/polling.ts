/** How many recent request intervals an edge keeps to estimate its polling period. */
const SAMPLES = 256;
/** Distinct request signatures tracked per edge before the table is reset (bounded memory under odd traffic). */
const MAX_SIGNATURES = 1024;

/**
 * Estimates an edge's polling period from the time between repeats of the same request (same function and
 * start address): SCADA polls are periodic, so the median is the configured scan rate and the IQR its jitter.
 */
export class PollTimer {
  // Allocated on the first request: most edges (scans, one-off connections) never poll.
  private last: Map<number, number> | null = null;
  private deltas: Float64Array | null = null;
  private n = 0;
  /** Longest pause between any two requests on the edge (bursty pollers pause between bursts). */
  private lastAny = -1;
  maxGap = 0;

  /** The first request, kept without a map: most edges of a scan or flood send only one. */
  private firstSig = -1;
  private firstTs = 0;

  request(signature: number, ts: number): void {
    if (this.lastAny >= 0 && ts - this.lastAny > this.maxGap) this.maxGap = ts - this.lastAny;
    this.lastAny = ts;
    if (this.last === null) {
      if (this.firstSig === -1) {
        this.firstSig = signature;
        this.firstTs = ts;
        return;
      }
      this.last = new Map([[this.firstSig, this.firstTs]]);
    }
    const last = this.last;
    const prev = last.get(signature);
    if (prev !== undefined) {
      const d = ts - prev;
      if (d > 0) (this.deltas ??= new Float64Array(SAMPLES))[this.n++ % SAMPLES] = d;
    } else if (last.size >= MAX_SIGNATURES) {
      last.clear();
    }
    last.set(signature, ts);
  }

  /** Median and interquartile range of the intervals, or null with under 3 samples. */
  period(): { median: number; iqr: number } | null {
    const k = Math.min(this.n, SAMPLES);
    if (k < 3 || this.deltas === null) return null;
    const xs = Array.from(this.deltas.subarray(0, k)).sort((a, b) => a - b);
    const q = (p: number) => xs[Math.min(k - 1, Math.floor(p * (k - 1) + 0.5))]!;
    return { median: round6(q(0.5)), iqr: round6(q(0.75) - q(0.25)) };
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
