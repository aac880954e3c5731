// Class 1 I/O at a set RPI for a while, then a change of pace: the scanner's Forward_Open (O→T 10 ms, T→O 20 ms,
// as in enip-io.ts), both directions producing at their RPI with a little jitter, and from `changeAt` seconds on
// one of: the same pace, the O→T producer slowed, a second sender injecting O→T datagrams on the same connection
// id, the O→T datagrams stopping, or a Forward_Close ending both on purpose.
import { rng } from '../helpers/rng.js';
import { udp } from './pcap-writer.js';
import {
  ADAPTER,
  ForwardOpenSession,
  ioDatagram,
  OT_ID,
  OT_RPI,
  SCANNER,
  TO_ID,
  TO_RPI,
} from './enip-io.js';

export type IoChange = 'steady' | 'slow' | 'fast' | 'stop' | 'close';

export const IO_START = 1_767_225_600;

export interface IoTimingOptions {
  change: IoChange;
  /** Seconds of steady I/O before the change, and after it. */
  changeAt?: number;
  after?: number;
  /** The slowed O→T interval (µs). */
  slowUs?: number;
  /** Every datagram twice, 20 µs apart (a SPAN port that mirrors both switch ports of the link). */
  duplicate?: boolean;
}

/** A classic microsecond pcap of Ethernet frames at their own times. */
export function pcapAt(frames: Array<[ts: number, frame: Buffer]>): Buffer {
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(1, 20);
  const recs = [...frames]
    .sort((a, b) => a[0] - b[0])
    .map(([t, f]) => {
      const us = Math.round(t * 1e6);
      const h = Buffer.alloc(16);
      h.writeUInt32LE(Math.floor(us / 1e6), 0);
      h.writeUInt32LE(us % 1e6, 4);
      h.writeUInt32LE(f.length, 8);
      h.writeUInt32LE(f.length, 12);
      return Buffer.concat([h, f]);
    });
  return Buffer.concat([gh, ...recs]);
}

export function enipIoTiming(o: IoTimingOptions): Buffer {
  const changeAt = o.changeAt ?? 20,
    after = o.after ?? 10;
  const r = rng(0x10);
  const jitter = (): number => (r(601) - 300) / 1e6; // ±0.3 ms
  const ioS = { ...SCANNER, port: 2222 },
    ioA = { ...ADAPTER, port: 2222 };
  const out: Array<[number, Buffer]> = [];
  const fo = new ForwardOpenSession();
  fo.open().forEach((f, i) => out.push([IO_START + i * 0.001, f]));
  const t0 = IO_START + 0.01,
    change = t0 + changeAt,
    end = change + after;
  // O→T: the scanner's outputs, with the run/idle header.
  let seq = 1;
  const otEnd = o.change === 'stop' || o.change === 'close' ? change : end;
  for (let t = t0; t < otEnd; seq++) {
    out.push([t + jitter(), udp(ioS, ioA, ioDatagram(OT_ID, seq, [1, 0, 0, 0, seq & 255, 0]))]);
    t += (o.change === 'slow' && t >= change ? (o.slowUs ?? 16_000) : OT_RPI) / 1e6;
  }
  // T→O: the adapter's inputs.
  const toEnd = o.change === 'close' ? change : end;
  seq = 1;
  for (let t = t0 + 0.005; t < toEnd; seq++, t += TO_RPI / 1e6)
    out.push([t + jitter(), udp(ioA, ioS, ioDatagram(TO_ID, seq, [seq & 255, 0, 0, 0]))]);
  if (o.change === 'close') out.push([change + 0.001, fo.close()]);
  // An injector (same addresses: spoofed) sending between the real datagrams on the same connection id.
  if (o.change === 'fast')
    for (let t = change + 0.005, s = 0x100000; t < end; t += OT_RPI / 1e6, s++)
      out.push([t, udp(ioS, ioA, ioDatagram(OT_ID, s, [1, 0, 0, 0, 0xff, 0]))]);
  if (o.duplicate)
    for (const [t, f] of [...out]) if (f.length > 60 && f[23] === 17) out.push([t + 20e-6, f]);
  return pcapAt(out);
}
