/**
 * A set of integer address ranges kept merged and sorted. Polling repeats the same ranges, so the common
 * case (range already covered) is answered without touching the list.
 */
export class RangeSet {
  /** Flat [start0, end0, start1, end1, …], inclusive ends, sorted, non-overlapping, non-adjacent. */
  private r: number[] = [];
  private lastStart = NaN;
  private lastEnd = NaN;

  add(start: number, count: number): void {
    if (count <= 0) return;
    const end = start + count - 1;
    if (start >= this.lastStart && end <= this.lastEnd) return;
    const r = this.r;
    let i = 0;
    while (i < r.length && r[i + 1]! < start - 1) i += 2;
    let j = i;
    let s = start, e = end;
    while (j < r.length && r[j]! <= end + 1) {
      if (r[j]! < s) s = r[j]!;
      if (r[j + 1]! > e) e = r[j + 1]!;
      j += 2;
    }
    r.splice(i, j - i, s, e);
    this.lastStart = s; this.lastEnd = e;
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
