/**
 * A direct-mapped cache from a 32-bit unsigned key (an IPv4 address) to a value, in front of a Map. Most
 * addresses do not fit V8's small integers, so every Map lookup by one boxes it (a heap number per packet,
 * and a slower hash); a hit here is two array reads and allocates nothing. A miss costs one Map lookup,
 * and a slot is simply overwritten by a newer key: the cache is never a source of truth.
 */
export class U32Cache<T> {
  private readonly keys: Uint32Array;
  private readonly values: (T | undefined)[];
  private readonly shift: number;

  constructor(bits = 12) {
    this.keys = new Uint32Array(1 << bits);
    this.values = new Array<T | undefined>(1 << bits).fill(undefined);
    this.shift = 32 - bits;
  }

  /** The value cached for `key`, or undefined when its slot holds another key (or none). */
  get(key: number): T | undefined {
    const i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    return this.keys[i] === key ? this.values[i] : undefined;
  }

  set(key: number, value: T): void {
    const i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    this.keys[i] = key;
    this.values[i] = value;
  }

  clear(): void {
    this.values.fill(undefined);
  }
}
