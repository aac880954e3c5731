// DNP3 link frames built from the standard (IEEE 1815): header block and 16-byte data blocks, each followed by
// its CRC, and application fragments cut into transport segments.

function crc(b: Buffer): number {
  let c = 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa6bc : c >>> 1;
  }
  return ~c & 0xffff;
}

function withCrc(block: Buffer): Buffer {
  const c = Buffer.alloc(2);
  c.writeUInt16LE(crc(block));
  return Buffer.concat([block, c]);
}

/** One link frame: `user` is the transport header plus application bytes (at most 250; empty for link-only frames). */
export function linkFrame(dest: number, src: number, user: Buffer, ctrl = 0xc4): Buffer {
  const h = Buffer.from([
    0x05,
    0x64,
    5 + user.length,
    ctrl,
    dest & 255,
    dest >> 8,
    src & 255,
    src >> 8,
  ]);
  const blocks = [withCrc(h)];
  for (let i = 0; i < user.length; i += 16) blocks.push(withCrc(user.subarray(i, i + 16)));
  return Buffer.concat(blocks);
}

/** An application fragment cut into transport segments of at most `size` bytes, sequence numbers from `seq`. */
export function segments(dest: number, src: number, app: Buffer, size = 249, seq = 0): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < app.length || k === 0; i += size, k++) {
    const fir = i === 0 ? 0x40 : 0,
      fin = i + size >= app.length ? 0x80 : 0;
    out.push(
      linkFrame(
        dest,
        src,
        Buffer.concat([Buffer.from([fin | fir | ((seq + k) & 0x3f)]), app.subarray(i, i + size)]),
      ),
    );
  }
  return out;
}

/** DIRECT_OPERATE (function 5) of `points` CROBs (g12v1, 2-byte index prefix, one object per header): latch on. */
export function directOperate(points: number[], seq = 3): Buffer {
  const headers = points.map((p) => [
    12,
    1,
    0x28,
    1,
    0,
    p & 255,
    p >> 8,
    0x03,
    1,
    0xe8,
    3,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  return Buffer.from([0xc0 | seq, 5, ...headers.flat()]);
}
