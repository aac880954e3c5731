import { openSync, writeSync, closeSync } from 'node:fs';
import { readCapture } from '../src/capture/source.js';

/**
 * Builds a large classic pcap from real captures: the frames of every source file, repeated `reps` times,
 * re-timed so time moves forward, and with the IPv4 addresses of each repetition shifted (second and third
 * octets) so each copy is a different set of hosts and flows — a bigger plant, not retransmissions.
 */
export async function makeBenchInput(
  sources: string[],
  target: number,
  out: string,
): Promise<{ frames: number; reps: number }> {
  const frames: { data: Uint8Array; dt: number }[] = [];
  for (const src of sources) {
    let prev = -1;
    const summary = await readCapture(src, (f) => {
      if (f.linkType !== 1) return;
      frames.push({
        data: f.data.slice(f.offset, f.offset + f.capLen),
        dt: prev < 0 ? 0.001 : Math.max(0, Math.min(1, f.ts - prev)),
      });
      prev = f.ts;
    });
    void summary;
  }
  if (frames.length === 0) throw new Error('no Ethernet frames in bench sources');
  const reps = Math.ceil(target / frames.length);
  const fd = openSync(out, 'w');
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(1, 20);
  writeSync(fd, gh);
  let ts = 1_700_000_000;
  const batch: Buffer[] = [];
  let batchLen = 0,
    written = 0;
  for (let r = 0; r < reps && written < target; r++) {
    for (const fr of frames) {
      if (written >= target) break;
      ts += fr.dt;
      const rec = Buffer.alloc(16 + fr.data.length);
      const sec = Math.floor(ts);
      rec.writeUInt32LE(sec, 0);
      rec.writeUInt32LE(Math.floor((ts - sec) * 1e6), 4);
      rec.writeUInt32LE(fr.data.length, 8);
      rec.writeUInt32LE(fr.data.length, 12);
      rec.set(fr.data, 16);
      shiftIpv4(rec, 16, r);
      batch.push(rec);
      batchLen += rec.length;
      written++;
      if (batchLen > 1 << 22) {
        writeSync(fd, Buffer.concat(batch));
        batch.length = 0;
        batchLen = 0;
      }
    }
  }
  if (batch.length) writeSync(fd, Buffer.concat(batch));
  closeSync(fd);
  return { frames: written, reps };
}

function shiftIpv4(b: Buffer, off: number, rep: number): void {
  if (b.length < off + 34) return;
  let et = b.readUInt16BE(off + 12),
    l3 = off + 14;
  while ((et === 0x8100 || et === 0x88a8) && b.length >= l3 + 4) {
    et = b.readUInt16BE(l3 + 2);
    l3 += 4;
  }
  if (et !== 0x0800 || b.length < l3 + 20 || b[l3]! >> 4 !== 4) return;
  for (const a of [l3 + 12, l3 + 16]) {
    b[a + 1] = (b[a + 1]! + (rep & 0xff)) & 0xff;
    b[a + 2] = (b[a + 2]! + (rep >> 8)) & 0xff;
  }
}
