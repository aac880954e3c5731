import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCapture, readCaptureSync } from '../../src/capture/source.js';
import { CaptureParser } from '../../src/capture/parser.js';
import type { Frame } from '../../src/capture/frame.js';
import { sharedCapture, sharedCaptures } from '../helpers/paths.js';

interface Row {
  index: number;
  ts: string;
  capLen: number;
  linkType: number;
  hex: string;
}
const row = (f: Frame): Row => ({
  index: f.index,
  ts: f.ts.toFixed(6),
  capLen: f.capLen,
  linkType: f.linkType,
  hex: Buffer.from(f.data.subarray(f.offset, f.offset + Math.min(f.capLen, 24))).toString('hex'),
});

function tsharkFrames(file: string): Array<{ ts: string; capLen: number }> {
  return execFileSync(
    'tshark',
    ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len'],
    { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] },
  )
    .toString()
    .trim()
    .split('\n')
    .map((l) => {
      const [ts, cl] = l.split('\t');
      return { ts: Number(ts).toFixed(6), capLen: Number(cl) };
    });
}

test('every shared capture: frame count, timestamps and lengths match tshark', async (t) => {
  const files = sharedCaptures();
  if (!files) return t.skip('shared captures missing');
  for (const f of files) {
    const ours: Row[] = [];
    const s = await readCapture(f, (fr) => ours.push(row(fr)));
    assert.equal(s.error, null, `${f}: ${s.error?.reason}`);
    const theirs = tsharkFrames(f);
    assert.equal(ours.length, theirs.length, f);
    theirs.forEach((x, i) => {
      assert.equal(ours[i]!.ts, x.ts, `${f} frame ${i + 1} time`);
      assert.equal(ours[i]!.capLen, x.capLen);
    });
  }
});

test('pcap converted to pcapng and nanosecond pcap by editcap reads the same frames', async (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!f) return t.skip('capture missing');
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cap-'));
  try {
    const base: Row[] = [];
    readCaptureSync(f, (fr) => base.push(row(fr)));
    for (const fmt of ['pcapng', 'nsecpcap']) {
      const out = path.join(dir, `x.${fmt}`);
      execFileSync('editcap', ['-F', fmt, f, out], { stdio: 'ignore' });
      const rows: Row[] = [];
      const s = readCaptureSync(out, (fr) => rows.push(row(fr)));
      assert.equal(s.format, fmt === 'pcapng' ? 'pcapng' : 'pcap');
      assert.deepEqual(rows, base, fmt);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A hand-built pcapng: big-endian SHB, two interfaces (Ethernet µs, raw IP with 2^-10 s resolution), EPB, SPB, an unknown block. */
function pcapngBigEndian(withUnknown = true): Buffer {
  const blocks: Buffer[] = [];
  const block = (type: number, body: Buffer) => {
    const len = 12 + body.length + ((4 - (body.length % 4)) % 4);
    const b = Buffer.alloc(len);
    b.writeUInt32BE(type, 0);
    b.writeUInt32BE(len, 4);
    body.copy(b, 8);
    b.writeUInt32BE(len, len - 4);
    blocks.push(b);
  };
  const shb = Buffer.alloc(16);
  shb.writeUInt32BE(0x1a2b3c4d, 0);
  shb.writeUInt16BE(1, 4);
  shb.writeInt32BE(-1, 8);
  shb.writeInt32BE(-1, 12);
  block(0x0a0d0d0a, shb);
  block(1, Buffer.from([0, 1, 0, 0, 0, 0, 0xff, 0xff]));
  // IDB 1: raw IPv4, option if_tsresol = 0x8a (2^-10 s), end of options.
  block(
    1,
    Buffer.concat([
      Buffer.from([0, 228, 0, 0, 0, 0, 0xff, 0xff]),
      Buffer.from([0, 9, 0, 1, 0x8a, 0, 0, 0, 0, 0, 0, 0]),
    ]),
  );
  const epb = (iface: number, tsUnits: bigint, data: Buffer) => {
    const h = Buffer.alloc(20);
    h.writeUInt32BE(iface, 0);
    h.writeUInt32BE(Number(tsUnits >> 32n), 4);
    h.writeUInt32BE(Number(tsUnits & 0xffffffffn), 8);
    h.writeUInt32BE(data.length, 12);
    h.writeUInt32BE(data.length, 16);
    block(6, Buffer.concat([h, data]));
  };
  epb(0, 1_700_000_000_123_456n, Buffer.alloc(60, 0xaa));
  if (withUnknown) block(0x0bad, Buffer.alloc(8));
  epb(
    1,
    1_700_000_000n * 1024n + 512n,
    Buffer.from('4500001c000000004011000001020304050607080000000000080000', 'hex'),
  );
  const spbBody = Buffer.alloc(4 + 42);
  spbBody.writeUInt32BE(42, 0);
  block(3, spbBody);
  return Buffer.concat(blocks);
}

test('pcapng: big-endian section, two interfaces with different link types and tsresol, SPB, unknown blocks', () => {
  const bytes = pcapngBigEndian();
  const rows: Row[] = [];
  const p = new CaptureParser((f) => rows.push(row(f)));
  p.feed(bytes);
  const s = p.end();
  assert.equal(s.error, null);
  assert.equal(s.format, 'pcapng');
  assert.deepEqual(
    rows.map((r) => [r.index, r.linkType, r.capLen, r.ts]),
    [
      [1, 1, 60, '1700000000.123456'],
      [2, 228, 28, '1700000000.500000'],
      [3, 1, 42, '0.000000'],
    ],
  );
  assert.equal(s.anomalies['pcapng_block_unknown_skipped'], 1);
  assert.deepEqual(s.unknownBlockTypes, ['0xbad']);
  // tshark agrees on the same bytes (without the unknown block, which tshark lists as a record of its own).
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cap-'));
  try {
    const f = path.join(dir, 'be.pcapng');
    writeFileSync(f, pcapngBigEndian(false));
    assert.deepEqual(
      tsharkFrames(f).map((x) => x.capLen),
      [60, 28, 42],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('feeding in chunks of every size from 1 to 64 bytes gives the same frames as one feed', (t) => {
  const f = sharedCapture('ics-pcap/s7_1200_hmi_timer_sync.pcapng');
  const g = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f || !g) return t.skip('captures missing');
  for (const file of [f, g]) {
    const bytes = readFileSync(file);
    const whole: Row[] = [];
    const p0 = new CaptureParser((fr) => whole.push(row(fr)));
    p0.feed(bytes);
    p0.end();
    for (let size = 1; size <= 64; size++) {
      const rows: Row[] = [];
      const p = new CaptureParser((fr) => rows.push(row(fr)));
      for (let o = 0; o < bytes.length; o += size) p.feed(bytes.subarray(o, o + size));
      assert.equal(p.end().error, null);
      assert.deepEqual(rows, whole, `${path.basename(file)} chunk ${size}`);
    }
  }
});

test('records longer than the carry step, across chunks of any size, arrive whole and as plain Uint8Arrays', () => {
  // A pcap of frames from 60 to 20,000 bytes (the carry completes a record 4 KiB at a time), each filled with
  // bytes from its index, fed as one Buffer and in Buffer chunks of sizes around and past that step.
  const lens = [60, 1514, 4095, 4096, 4097, 9000, 20000, 61, 8191, 12289, 100, 16384];
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(1, 20);
  parts.push(hdr);
  lens.forEach((len, i) => {
    const rec = Buffer.alloc(16 + len);
    rec.writeUInt32LE(1700000000 + i, 0);
    rec.writeUInt32LE(len, 8);
    rec.writeUInt32LE(len, 12);
    for (let j = 0; j < len; j++) rec[16 + j] = (i * 31 + j) & 0xff;
    parts.push(rec);
  });
  const bytes = Buffer.concat(parts);
  const frames = (size: number): string[] => {
    const out: string[] = [];
    const p = new CaptureParser((fr) => {
      assert.equal(fr.data.constructor, Uint8Array);
      const d = fr.data.subarray(fr.offset, fr.offset + fr.capLen);
      out.push(`${fr.index} ${fr.capLen} ${Buffer.from(d).toString('base64')}`);
    });
    for (let o = 0; o < bytes.length; o += size) p.feed(bytes.subarray(o, o + size));
    assert.equal(p.end().error, null, `chunk ${size}`);
    return out;
  };
  const whole = frames(bytes.length);
  assert.equal(whole.length, lens.length);
  for (const size of [100, 1000, 4095, 4096, 4097, 5000, 8192, 9999, 20016, 65536])
    assert.deepEqual(frames(size), whole, `chunk ${size}`);
  // A capture cut inside a long record reports the bytes left, whatever the chunks.
  for (const size of [1000, 4096, 7000]) {
    const p = new CaptureParser(() => undefined);
    const cut = bytes.length - 5000;
    for (let o = 0; o < cut; o += size) p.feed(bytes.subarray(o, Math.min(o + size, cut)));
    assert.match(
      p.end().error!.reason,
      new RegExp(`truncated record: ${16 + 16384 - 5000} bytes left`),
      `chunk ${size}`,
    );
  }
});

test('truncated files: every good frame is delivered, then the stop is reported with its offset', (t) => {
  const f = sharedCapture('icsnpp/modbus_example.pcap');
  const g = sharedCapture('ics-pcap/s7_1200_hmi_timer_sync.pcapng');
  if (!f || !g) return t.skip('captures missing');
  for (const file of [f, g]) {
    const bytes = readFileSync(file);
    const all: Row[] = [];
    const p0 = new CaptureParser((fr) => all.push(row(fr)));
    p0.feed(bytes);
    p0.end();
    // Record boundaries: a cut exactly there leaves a valid, shorter file.
    const boundaries = new Set<number>();
    if (bytes.readUInt32LE(0) === 0x0a0d0d0a) {
      for (let o = 0; o < bytes.length; o += bytes.readUInt32LE(o + 4)) boundaries.add(o);
    } else {
      for (let o = 24; o < bytes.length; o += 16 + bytes.readUInt32LE(o + 8)) boundaries.add(o);
    }
    for (let cut = 0; cut < bytes.length; cut += 37) {
      const rows: Row[] = [];
      const p = new CaptureParser((fr) => rows.push(row(fr)));
      p.feed(bytes.subarray(0, cut));
      const s = p.end();
      assert.deepEqual(rows, all.slice(0, rows.length), 'a prefix of the good frames');
      if (cut > 0 && boundaries.has(cut)) {
        assert.equal(s.error, null, `clean cut at ${cut}`);
        continue;
      }
      assert.ok(s.error !== null, `cut at ${cut} must be reported`);
      assert.equal(s.error!.framesBefore, rows.length);
      assert.ok(s.error!.byteOffset <= cut);
    }
  }
});

test('garbage and absurd record lengths stop cleanly with a reason', () => {
  const junk = new CaptureParser(() => undefined);
  junk.feed(Buffer.from('this is not a capture file at all'));
  assert.match(junk.end().error!.reason, /not a pcap or pcapng/);
  const hdr = Buffer.alloc(24 + 16);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  hdr.writeUInt32LE(0x7fffffff, 24 + 8);
  const big = new CaptureParser(() => undefined);
  big.feed(hdr);
  assert.match(big.end().error!.reason, /exceeds snap length/);
  assert.match(new CaptureParser(() => undefined).end().error!.reason, /empty input/);
});
