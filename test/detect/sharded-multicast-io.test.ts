import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pcapAt } from '../fixtures-gen/enip-io-timing.js';
import { ioFrame, replyFrame } from '../helpers/enip-io-frames.js';
import { weir } from '../helpers/weir-cli.js';

/**
 * Found this way (main at cf3ab60, before this test): a target's multicast T→O datagrams (to a group address)
 * were routed by the pair (target, group), its Forward_Open by the pair (originator, target), so with
 * `--workers 3` most of them reached a shard that never saw the Forward_Open: io_timing did not watch them and
 * missed their drift. And the tables keyed a connection by its producer and id only: an originator's O→T ids
 * are chosen by each target, so two targets handing out the same id made one thread mix both connections (one
 * watch of interleaved datagrams, an id opened with one target taken as opened with another), while the shards
 * of `--workers N` kept them apart.
 */

const SCANNER = '10.46.0.10',
  LISTENER = '10.46.0.11',
  /** Every target hands the scanner this O→T id (ids are the target's to choose: they may repeat). */
  SAME_OT_ID = 0x20000001;
const T0 = 1_767_225_600;
const target = (i: number): string => `10.46.1.${i}`;
const group = (i: number): string => `239.192.1.${i}`;
const toId = (i: number): number => 0x30000000 + i;

/**
 * Eight targets, each opening a 10 ms connection with the scanner whose T→O half is multicast (the first four
 * also with a listen-only originator sharing it), then each target's datagrams to its group every 20 ms (twice
 * the RPI: drift on all eight), the scanner's O→T datagrams every 10 ms (every 20 ms to the eighth: drift), and
 * one datagram on the shared id to a ninth target whose Forward_Open gave other ids (unknown there).
 */
function multicastIo(): Buffer {
  const out: Array<[number, Buffer]> = [];
  for (let i = 1; i <= 8; i++) {
    out.push([T0 + i * 0.01, replyFrame(SCANNER, target(i), SAME_OT_ID, toId(i))]);
    if (i <= 4)
      out.push([T0 + 0.1 + i * 0.01, replyFrame(LISTENER, target(i), 0x21000000 + i, toId(i))]);
  }
  out.push([T0 + 0.2, replyFrame(SCANNER, target(9), 0x22000009, 0x32000009)]);
  for (let k = 1; k <= 40; k++) {
    const t = T0 + 1 + k * 0.02;
    for (let i = 1; i <= 8; i++) out.push([t + i * 1e-4, ioFrame(target(i), group(i), toId(i), k)]);
  }
  for (let k = 1; k <= 80; k++) {
    const t = T0 + 1 + k * 0.01 + 0.005;
    for (let i = 1; i <= 7; i++)
      out.push([t + i * 1e-4, ioFrame(SCANNER, target(i), SAME_OT_ID, k)]);
    if (k % 2 === 0) out.push([t + 9e-4, ioFrame(SCANNER, target(8), SAME_OT_ID, k / 2)]);
  }
  out.push([T0 + 2, ioFrame(SCANNER, target(9), SAME_OT_ID, 1)]);
  return pcapAt(out);
}

interface Finding {
  type: string;
  src: string;
  dst: string;
}

const ioFindings = (jsonl: string): string[] =>
  jsonl
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Finding)
    .filter((d) => d.type.startsWith('io_'))
    .map((d) => `${d.type} ${d.src}>${d.dst}`)
    .sort();

test('multicast EtherNet/IP I/O and O→T ids repeated by several targets: detect and discover with workers equal one thread', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-shard-mcast-io-'));
  try {
    // A baseline that knows nothing of this I/O: only what the Forward_Opens agreed is watched.
    const normal = path.join(dir, 'normal.pcap');
    writeFileSync(normal, pcapAt([[T0 - 100, replyFrame('10.1.0.10', '10.1.0.20', 1, 2)]]));
    const db = path.join(dir, 'w.db');
    const l = await weir(['learn', '--db', db, '--create', normal]);
    assert.equal(l.code, 0, l.stderr);
    const file = path.join(dir, 'multicast-io.pcap');
    writeFileSync(file, multicastIo());
    const detect: string[] = [],
      discover: string[] = [];
    for (const n of ['1', '2', '3']) {
      const r = await weir([
        'detect',
        '--baseline',
        db,
        '--no-save',
        '--jsonl',
        '--workers',
        n,
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /bounds reached/);
      detect.push(r.stdout);
      const d = await weir(['discover', '--json', '--workers', n, file]);
      assert.equal(d.code, 0, d.stderr);
      discover.push(d.stdout);
    }
    // One thread: each group's datagrams drift against the RPI their Forward_Open granted, and so does the
    // scanner's I/O to the eighth target, apart from the same id's I/O to the other seven.
    const want = [
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `io_interval_drift ${target(i)}>${group(i)}`),
      `io_interval_drift ${SCANNER}>${target(8)}`,
    ].sort();
    assert.deepEqual(ioFindings(detect[0]!), want);
    // The id the ninth target never handed out is unknown between those two hosts.
    assert.match(discover[0]!, /io_unknown_connection/);
    for (const i of [1, 2]) {
      assert.deepEqual(ioFindings(detect[i]!), want, `detect --workers ${i + 1}`);
      assert.ok(detect[i] === detect[0], `detect --workers ${i + 1}: output differs`);
      assert.ok(discover[i] === discover[0], `discover --workers ${i + 1}: output differs`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
