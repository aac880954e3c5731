/** How many recent request intervals an edge keeps to estimate its polling period. */
const SAMPLES = 256;
/** Distinct request signatures tracked per edge before the table is reset (bounded memory under odd traffic). */
const MAX_SIGNATURES = 1024;

/**
 * Estimates an edge's polling period from the time between repeats of the same request (same function and
 * start address): SCADA polls are periodic, so the median is the configured scan rate and the IQR its jitter.
 */
export class PollTimer {
  /** Longest pause between any two requests on the edge (bursty pollers pause between bursts). */
  maxGap = 0;
  /** Time of the last request of any signature (-1: none yet). */
  private lastAny = -1;
  /**
   * The first request's signature, kept without a table: most edges of a scan or flood send only one (a plant
   * of a million edges holds a million of these, so the table and its counters live apart). Its time is lastAny
   * until the second request builds the table.
   */
  private firstSig = -1;
  // Allocated on the second request: most edges (scans, one-off connections) never poll.
  private t: SignatureTable | null = null;

  request(signature: number, ts: number): void {
    const prev = this.lastAny;
    if (prev >= 0 && ts - prev > this.maxGap) this.maxGap = ts - prev;
    this.lastAny = ts;
    let t = this.t;
    if (t === null) {
      if (this.firstSig === -1) {
        this.firstSig = signature;
        return;
      }
      t = this.t = new SignatureTable();
      t.put(this.firstSig, prev);
    }
    t.request(signature, ts);
  }

  /** Median and interquartile range of the intervals, or null with under 3 samples. */
  period(): { median: number; iqr: number } | null {
    const t = this.t;
    if (t === null) return null;
    const k = Math.min(t.n, SAMPLES);
    if (k < 3 || t.deltas === null) return null;
    // Three order statistics of at most 256 numbers: selected in a scratch copy instead of a full sort (the
    // same values; deltas are positive numbers, never NaN), at the ranks the sorted list was read at.
    const xs = SCRATCH;
    xs.set(k === t.deltas.length ? t.deltas : t.deltas.subarray(0, k));
    const r = (p: number): number => Math.min(k - 1, Math.floor(p * (k - 1) + 0.5));
    const r1 = r(0.25),
      r2 = r(0.5),
      r3 = r(0.75);
    // The median first: every rank below it then lies left of it, every rank above to its right.
    const median = select(xs, 0, k - 1, r2);
    const q1 = select(xs, 0, r2, r1);
    const q3 = select(xs, r2, k - 1, r3);
    return { median: round6(median), iqr: round6(q3 - q1) };
  }
}

/** Scratch space for period(), which is synchronous and calls nothing that could re-enter it. */
const SCRATCH = new Float64Array(SAMPLES);

/**
 * The value of rank `n` among xs[lo..hi] once sorted, moving values within that span only (Hoare partition
 * around the median of three; at most 256 values, so the quadratic worst case stays small).
 */
function select(xs: Float64Array, lo: number, hi: number, n: number): number {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three to xs[mid], and lo, hi ordered around it.
    if (xs[mid]! < xs[lo]!) swap(xs, mid, lo);
    if (xs[hi]! < xs[lo]!) swap(xs, hi, lo);
    if (xs[hi]! < xs[mid]!) swap(xs, hi, mid);
    const pivot = xs[mid]!;
    let i = lo,
      j = hi;
    while (i <= j) {
      while (xs[i]! < pivot) i++;
      while (xs[j]! > pivot) j--;
      if (i <= j) {
        swap(xs, i, j);
        i++;
        j--;
      }
    }
    // Now xs[lo..j] <= pivot <= xs[i..hi], and anything between j and i equals the pivot.
    if (n <= j) hi = j;
    else if (n >= i) lo = i;
    else return xs[n]!;
  }
  return xs[lo]!;
}

function swap(xs: Float64Array, i: number, j: number): void {
  const t = xs[i]!;
  xs[i] = xs[j]!;
  xs[j] = t;
}

/**
 * Last time of each request signature: an open-addressing table of signatures and times (empty slots hold -1),
 * kept at most half full, and the recent intervals between repeats. A Map would box each signature (above 2^30)
 * and each time into heap numbers on every request.
 */
class SignatureTable {
  sigs = new Float64Array(INITIAL_SLOTS).fill(-1);
  times = new Float64Array(INITIAL_SLOTS);
  size = 0;
  deltas: Float64Array | null = null;
  n = 0;

  request(signature: number, ts: number): void {
    const sigs = this.sigs,
      mask = sigs.length - 1;
    let i = slot(signature, mask);
    for (;;) {
      const s = sigs[i]!;
      if (s === signature) {
        const d = ts - this.times[i]!;
        if (d > 0) (this.deltas ??= new Float64Array(SAMPLES))[this.n++ % SAMPLES] = d;
        this.times[i] = ts;
        return;
      }
      if (s === -1) break;
      i = (i + 1) & mask;
    }
    // A new signature: past the bound the table starts over (the signatures before are forgotten).
    if (this.size >= MAX_SIGNATURES) this.reset(INITIAL_SLOTS);
    else if (2 * (this.size + 1) > sigs.length) this.grow();
    this.put(signature, ts);
  }

  private reset(slots: number): void {
    this.sigs = new Float64Array(slots).fill(-1);
    this.times = new Float64Array(slots);
    this.size = 0;
  }

  put(signature: number, ts: number): void {
    const sigs = this.sigs,
      mask = sigs.length - 1;
    let i = slot(signature, mask);
    while (sigs[i] !== -1) i = (i + 1) & mask;
    sigs[i] = signature;
    this.times[i] = ts;
    this.size++;
  }

  private grow(): void {
    const sigs = this.sigs,
      times = this.times;
    this.reset(sigs.length * 2);
    for (let i = 0; i < sigs.length; i++) if (sigs[i] !== -1) this.put(sigs[i]!, times[i]!);
  }
}

/** Slots of a new signature table (a power of two); it doubles as it fills, up to twice MAX_SIGNATURES. */
const INITIAL_SLOTS = 8;

/** Home slot of a signature (a non-negative integer below 2^53): both 24-bit halves mixed. */
function slot(signature: number, mask: number): number {
  const lo = signature % 16777216,
    hi = (signature - lo) / 16777216;
  return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0) & mask;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
