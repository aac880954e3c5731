// DNP3 link frames built from the standard (IEEE 1815): header block and 16-byte data blocks, each followed by
// its CRC, and application fragments cut into transport segments.
import { pcap, TcpFlow } from './pcap-writer.js';

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

/**
 * A master polling an outstation over TCP: a class 0 read and its response with two g30v2 analog inputs, a
 * DIRECT_OPERATE of 20 CROBs in three transport segments and its echo, then a segment out of sequence.
 */
export function dnp3Session(): Buffer {
  const master = { mac: '02:00:00:00:14:01', ip: '10.20.0.1', port: 40000 },
    outstation = { mac: '02:00:00:00:14:02', ip: '10.20.0.2', port: 20000 };
  const MASTER = 1,
    OUTSTATION = 10;
  const f = new TcpFlow(master, outstation);
  const points = Array.from({ length: 20 }, (_, i) => 100 + i);
  const operate = directOperate(points, 4);
  const echo = Buffer.concat([Buffer.from([0xc4, 129, 0, 0]), operate.subarray(2)]);
  const frames = [
    ...f.handshake(),
    // READ (1) of class 0 (g60v1, qualifier 0x06: all objects).
    f.send(true, segments(OUTSTATION, MASTER, Buffer.from([0xc3, 1, 60, 1, 6]))[0]!),
    // RESPONSE (129), IIN 0x0000, g30v2 indices 0..1 (flags + 16-bit value each).
    f.send(
      false,
      segments(
        MASTER,
        OUTSTATION,
        Buffer.from([0xc3, 129, 0, 0, 30, 2, 0, 0, 1, 1, 0xe8, 3, 1, 0x18, 0xfc]),
      )[0]!,
    ),
    ...segments(OUTSTATION, MASTER, operate, 130).map((l) => f.send(true, l)),
    ...segments(MASTER, OUTSTATION, echo, 130, 10).map((l) => f.send(false, l)),
    // A middle segment whose first segment never came: one anomaly, nothing joined.
    f.send(true, segments(OUTSTATION, MASTER, operate, 130, 20)[1]!),
  ];
  return pcap(frames, 1_767_398_400, 0.05);
}
