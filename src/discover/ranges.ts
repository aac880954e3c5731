/** Disjoint ranges an edge keeps per address space: scattered single-address reads must not grow it without bound. */
export const MAX_RANGES = 1024;

/**
 * A set of integer address ranges kept merged and sorted. Polling repeats the same ranges, so the common
 * case (range already covered) is answered without touching the list.
 */
/** The list of a set with no range yet, shared (never written: the first add replaces it). */
const EMPTY: number[] = [];

export class RangeSet {
  /** Flat [start0, end0, start1, end1, …], inclusive ends, sorted, non-overlapping, non-adjacent. */
  private r: number[] = EMPTY;
  /**
   * Index of the pair the last add landed in (-1: none): polling repeats it. An index, not its two ends, since
   * ends held as fields are boxed numbers on every edge.
   */
  private hit = -1;

  /** `max`: disjoint ranges kept at most (unbounded for sets built from trusted baselines). */
  constructor(private readonly max = Infinity) {}

  /**
   * Add [start, start + count). False when the range is not recorded because it would be one disjoint range
   * more than the set's maximum (the caller counts it).
   */
  add(start: number, count: number): boolean {
    if (count <= 0) return true;
    const end = start + count - 1;
    const r = this.r,
      h = this.hit;
    if (h >= 0 && start >= r[h]! && end <= r[h + 1]!) return true;
    // First range: an exact-size list (a grown one costs an edge of a flood several times more).
    if (r.length === 0) {
      this.r = firstRange(start, end);
      this.hit = 0;
      return true;
    }
    // The first range that ends at or after start - 1 (ends ascend: binary search over the pairs).
    let lo = 0,
      hi = r.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[2 * mid + 1]! < start - 1) lo = mid + 1;
      else hi = mid;
    }
    const i = 2 * lo;
    let j = i;
    let s = start,
      e = end;
    while (j < r.length && r[j]! <= end + 1) {
      if (r[j]! < s) s = r[j]!;
      if (r[j + 1]! > e) e = r[j + 1]!;
      j += 2;
    }
    if (j === i && r.length >= 2 * this.max) return false;
    // Already covered by one range: nothing to change (a splice would still allocate its removed list).
    if (j === i + 2 && r[i] === s && r[i + 1] === e) {
      this.hit = i;
      return true;
    }
    r.splice(i, j - i, s, e);
    this.hit = i;
    return true;
  }

  covers(start: number, count: number): boolean {
    const end = start + count - 1;
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) if (r[i]! <= start && end <= r[i + 1]!) return true;
    return false;
  }

  toArray(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.r.length; i += 2) out.push([this.r[i]!, this.r[i + 1]!]);
    return out;
  }

  static from(ranges: Array<[number, number]>): RangeSet {
    const s = new RangeSet();
    for (const [a, b] of ranges) s.add(a, b - a + 1);
    return s;
  }
}

/**
 * A set's first range, out of line: a set lives as long as its edge, so V8 soon allocates this literal in the old
 * space, and code that inlined it (add inlines into the inventory's per-message hook) is thrown away when it
 * decides so. Called once per set, far too rarely for TurboFan to inline (see EdgeBook's SpaceRanges).
 */
function firstRange(start: number, end: number): number[] {
  return [start, end];
}
