import { createHash } from 'node:crypto';

/**
 * A seeded generator: a decoy's identity follows from (secret, set, rotation epoch, slot), so a restart or a
 * second node makes the same decoy, and the next rotation a different one. Not for secrets, only for variety.
 */
export class Rng {
  private s: number;

  constructor(seed: string) {
    this.s = createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  }

  /** mulberry32: small, fast, good enough spread for picking digits and offsets. */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}
