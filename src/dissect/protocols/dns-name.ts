/**
 * Read a DNS-encoded name at `p` (labels with compression pointers), bounded against pointer loops.
 * Returns the name and the offset after it in the original position, or null when malformed.
 */
export function readName(
  b: Uint8Array,
  start: number,
  p: number,
  end: number,
): { name: string; next: number } | null {
  let name = '';
  let next = -1;
  for (let jumps = 0; jumps < 32; ) {
    if (p >= end) return null;
    const l = b[p]!;
    if (l === 0) return { name, next: next < 0 ? p + 1 : next };
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= end) return null;
      if (next < 0) next = p + 2;
      p = start + (((l & 0x3f) << 8) | b[p + 1]!);
      jumps++;
      continue;
    }
    if (l > 63 || p + 1 + l > end) return null;
    let label = '';
    for (let i = 0; i < l; i++) {
      const c = b[p + 1 + i]!;
      label += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
    }
    name = name ? `${name}.${label}` : label;
    if (name.length > 255) return null;
    p += 1 + l;
  }
  return null;
}
