/**
 * Joins the fragments of one protocol unit (a COTP TSDU, a DNP3 application fragment) for one direction of a
 * stream, within a byte and a fragment-count bound: a peer that never ends a unit costs bounded memory and
 * one anomaly, not a growing buffer. Fragmentation is rare, so the buffer is allocated per unit and freed
 * when the unit ends (an idle stream holds nothing).
 */
export class FragmentJoiner {
  private buf: Uint8Array | null = null;
  /** Bytes and fragments of the unit so far. */
  size = 0;
  count = 0;
  /** Set when the unit was given up (too long, or broken): its remaining fragments are skipped until it ends. */
  skipping = false;

  constructor(
    readonly maxBytes: number,
    readonly maxFragments: number,
  ) {}

  /** A unit is being joined (not skipped). */
  get joining(): boolean {
    return this.count > 0;
  }

  /** Byte `i` of the unit so far, -1 beyond it (tells what the unit is when it must be reported). */
  byteAt(i: number): number {
    return this.buf !== null && i < this.size ? this.buf[i]! : -1;
  }

  /** Add one fragment's bytes; false when the unit outgrows the bounds (it is then given up and skipped). */
  add(b: Uint8Array, off: number, n: number): boolean {
    if (this.skipping) return false;
    const need = this.size + n;
    if (need > this.maxBytes || this.count + 1 > this.maxFragments) {
      this.skip();
      return false;
    }
    if (this.buf === null || this.buf.length < need) {
      const grown = new Uint8Array(
        Math.min(this.maxBytes, Math.max(need, 256, (this.buf?.length ?? 0) * 2)),
      );
      if (this.buf !== null) grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    this.buf.set(b.subarray(off, off + n), this.size);
    this.size = need;
    this.count++;
    return true;
  }

  /** The joined unit; the joiner is reset (the returned bytes stay valid, they are no longer shared). */
  take(): Uint8Array {
    const whole = this.buf === null ? new Uint8Array(0) : this.buf.subarray(0, this.size);
    this.reset();
    return whole;
  }

  /**
   * The joined unit as a view of the joiner's own buffer, which is kept for the stream's next unit: valid only
   * until the next `add`, for a caller that decodes it at once and keeps no view of it. A multi-frame unit
   * then costs no fresh buffer (an array buffer of more than 64 bytes lives outside the heap, and every
   * scavenge sweeps the dead ones); the stream holds at most one buffer of the longest unit it joined.
   */
  takeTransient(): Uint8Array {
    const whole = this.buf === null ? new Uint8Array(0) : this.buf.subarray(0, this.size);
    this.restart();
    return whole;
  }

  /** Start over with an empty unit, keeping the buffer (see takeTransient). */
  restart(): void {
    this.size = 0;
    this.count = 0;
    this.skipping = false;
  }

  /** Give the unit up: free its bytes and skip its remaining fragments until `reset`. */
  skip(): void {
    this.buf = null;
    this.size = 0;
    this.count = 0;
    this.skipping = true;
  }

  reset(): void {
    this.buf = null;
    this.size = 0;
    this.count = 0;
    this.skipping = false;
  }
}
