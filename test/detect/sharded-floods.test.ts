import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spoofedSourcesPcap } from '../helpers/hostile-captures.js';
import { fedFifo } from '../helpers/fifo.js';
import { weir } from '../helpers/weir-cli.js';

/**
 * Found this way (main at 0c94dbe, before this test): with max_tcp_streams 64, one pair's 60 connections between
 * the two halves of a write made each shard's table (32) reset and drop the write's first half, so
 * `weir detect --workers 2` lost the function_outside_profile one thread reports: a flood hid a write.
 *
 * A flood must not make `weir detect --workers N` (or `weir discover --workers N`) differ from one thread:
 * the bounds a sharded run splits between its shards (TCP streams, reassembly bytes, edges) are reached by a
 * flood at other frames than one thread's, and where one was reached the files are read again on one thread.
 */

interface Segment {
  ts: number;
  src: number;
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  payload: Buffer;
}

const ip = (a: number, b: number, c: number, d: number): number =>
  ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** A pcap of TCP PSH|ACK segments, one frame each. */
function tcpPcap(segs: Segment[]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  parts.push(head);
  for (const s of segs) {
    const len = 14 + 20 + 20 + s.payload.length;
    const r = Buffer.alloc(16 + len);
    r.writeUInt32LE(Math.floor(s.ts), 0);
    r.writeUInt32LE(Math.round((s.ts % 1) * 1e6), 4);
    r.writeUInt32LE(len, 8);
    r.writeUInt32LE(len, 12);
    const f = 16;
    // MACs derived from the addresses: 02:00 + the IPv4 address.
    r.writeUInt16BE(0x0200, f);
    r.writeUInt32BE(s.dst, f + 2);
    r.writeUInt16BE(0x0200, f + 6);
    r.writeUInt32BE(s.src, f + 8);
    r.writeUInt16BE(0x0800, f + 12);
    const h = f + 14;
    r[h] = 0x45;
    r.writeUInt16BE(len - 14, h + 2);
    r[h + 8] = 64;
    r[h + 9] = 6;
    r.writeUInt32BE(s.src, h + 12);
    r.writeUInt32BE(s.dst, h + 16);
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += r.readUInt16BE(h + k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    r.writeUInt16BE(~sum & 0xffff, h + 10);
    const t = h + 20;
    r.writeUInt16BE(s.sport, t);
    r.writeUInt16BE(s.dport, t + 2);
    r.writeUInt32BE(s.seq, t + 4);
    r.writeUInt32BE(1, t + 8);
    r[t + 12] = 0x50;
    r[t + 13] = 0x18;
    r.writeUInt16BE(8192, t + 14);
    s.payload.copy(r, t + 20);
    parts.push(r);
  }
  return Buffer.concat(parts);
}

/** A Modbus/TCP ADU: MBAP header, unit 1, then the PDU. */
function modbus(tid: number, pdu: number[]): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(pdu.length + 1, 4);
  b[6] = 1;
  Buffer.from(pdu).copy(b, 7);
  return b;
}

const MASTER = ip(10, 1, 0, 10),
  PLC = ip(10, 1, 0, 20);
const READ = [3, 0, 0, 0, 10];

/** The master polls the PLC (function 3) from one connection, every 100 ms from `t0`. */
function polls(t0: number, count: number, seq0: number): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const payload = modbus(i, READ);
    out.push({
      ts: t0 + i / 10,
      src: MASTER,
      dst: PLC,
      sport: 40000,
      dport: 502,
      seq: seq0 + i * 12,
      payload,
    });
  }
  return out;
}

/**
 * After the learned polling, a write (function 16, never learned) split over two segments with a flood of TCP
 * streams between them: `pairs` spoofed address pairs, `perPair` connections each (source ports differ).
 */
function attack(pairs: number, perPair: number): Segment[] {
  const t0 = 1_700_000_100;
  const segs = polls(t0, 20, 1_000_000);
  const write = modbus(99, [16, 0, 0, 0, 2, 4, 0, 1, 0, 2]);
  const seq = 1_000_000 + 20 * 12;
  segs.push({
    ts: t0 + 2.05,
    src: MASTER,
    dst: PLC,
    sport: 40000,
    dport: 502,
    seq,
    payload: write.subarray(0, 9),
  });
  let t = t0 + 2.06;
  for (let p = 0; p < pairs; p++)
    for (let c = 0; c < perPair; c++) {
      t += 0.0001;
      segs.push({
        ts: t,
        src: ip(10, 9, p, 1),
        dst: ip(10, 9, p, 2),
        sport: 2000 + c,
        dport: 502,
        seq: 5000,
        payload: modbus(c, READ),
      });
    }
  segs.push({
    ts: t + 0.01,
    src: MASTER,
    dst: PLC,
    sport: 40000,
    dport: 502,
    seq: seq + 9,
    payload: write.subarray(9),
  });
  segs.push(...polls(t + 0.1, 10, seq + write.length));
  return segs;
}

const STREAMS_64 = 'dissect:\n  max_tcp_streams: 64\n';

/** A store in `dir` that learned 50 normal polls, and the environment giving Weir these settings. */
async function learnedIn(
  dir: string,
  settings: string,
): Promise<{ db: string; env: Record<string, string> }> {
  const normal = path.join(dir, 'normal.pcap');
  writeFileSync(normal, tcpPcap(polls(1_700_000_000, 50, 1000)));
  const db = path.join(dir, 'w.db');
  const config = path.join(dir, 'weir.yaml');
  writeFileSync(config, `weir: settings/1\n${settings}`);
  const env = { WEIR_CONFIG: config };
  const l = await weir(['learn', '--db', db, '--create', normal], { env });
  assert.equal(l.code, 0, l.stderr);
  return { db, env };
}

test('a TCP-stream flood past max_tcp_streams: detect and discover with workers equal one thread', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-floods-'));
  try {
    const { db, env } = await learnedIn(dir, STREAMS_64);
    // One pair's 60 streams fill a shard's share (32) but not one thread's table (64); four pairs' 100 fill both.
    for (const [pairs, perPair] of [
      [1, 60],
      [4, 25],
      [3, 40],
    ] as const) {
      const file = path.join(dir, `attack-${pairs}x${perPair}.pcap`);
      writeFileSync(file, tcpPcap(attack(pairs, perPair)));
      const outs: string[] = [];
      for (const n of ['1', '2', '3']) {
        const r = await weir(
          ['detect', '--baseline', db, '--no-save', '--jsonl', '--workers', n, file],
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
        outs.push(r.stdout);
        const d = await weir(['discover', '--json', '--workers', n, file], { env });
        assert.equal(d.code, 0, d.stderr);
        outs.push(d.stdout);
        // One thread's table holds the 61 streams; so does the CLI's one worker for two threads, which takes
        // every address pair and so the whole bound (shard 0 on the main thread gets no IP frame).
        if (pairs === 1 && n !== '3')
          assert.doesNotMatch(d.stderr, /tcp_streams/, `--workers ${n}`);
      }
      const label = `${pairs} pairs × ${perPair} streams`;
      assert.ok(outs[0]!.length > 0, label);
      for (let i = 2; i < outs.length; i++)
        assert.equal(
          outs[i],
          outs[i % 2],
          `${label}: ${i % 2 ? 'discover' : 'detect'} --workers ${1 + (i >> 1)}`,
        );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a flood of spoofed senders: detect with workers equals one thread (no asset or edge bound in detect)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-floods-'));
  try {
    // Bounds the flood passes: detect keeps no asset table, and its edge state is not bounded by max_edges.
    const { db, env } = await learnedIn(dir, 'inventory:\n  max_assets: 500\n  max_edges: 500\n');
    const flood = path.join(dir, 'flood.pcap');
    writeFileSync(flood, spoofedSourcesPcap(3000));
    const outs: string[] = [];
    for (const n of ['1', '2', '3']) {
      const r = await weir(
        ['detect', '--baseline', db, '--no-save', '--jsonl', '--workers', n, flood],
        {
          env,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      outs.push(r.stdout);
    }
    assert.ok(outs[0]!.split('\n').filter(Boolean).length > 0);
    assert.equal(outs[1], outs[0], '--workers 2');
    assert.equal(outs[2], outs[0], '--workers 3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a TCP-stream flood from a named FIFO: detect --workers 3 keeps the sharded result (a FIFO cannot be read twice), ends, exits as one thread and says the result may differ', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-floods-fifo-'));
  const data = tcpPcap(attack(3, 40));
  const fifo = fedFifo(dir, 'attack.pcap', data);
  try {
    const { db, env } = await learnedIn(dir, STREAMS_64);
    const file = path.join(dir, 'attack.pcap.file');
    writeFileSync(file, data);
    const args = ['detect', '--baseline', db, '--no-save', '--jsonl'];
    const one = await weir([...args, file], { env });
    assert.equal(one.code, 0, one.stderr);
    // Before the fix the FIFO's second open blocked forever (killed here after 30 s: code null).
    const r = await weir([...args, '--workers', '3', fifo.path], { env, timeoutMs: 30_000 });
    await fifo.written;
    assert.equal(r.code, one.code, r.stderr);
    assert.match(
      r.stderr,
      /result may differ from one thread's: a bound was reached on input that cannot be read twice/,
    );
    // A regular file is read again: one thread's detections, no warning.
    const again = await weir([...args, '--workers', '3', file], { env });
    assert.equal(again.stdout, one.stdout);
    assert.doesNotMatch(again.stderr, /cannot be read twice/);
  } finally {
    fifo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
