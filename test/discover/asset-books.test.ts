import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory, type InventoryLimits } from '../../src/discover/inventory.js';
import { ShardedRun } from '../../src/discover/sharded.js';
import { DiscoverShard } from '../../src/discover/shard-core.js';
import { mergeAssetBooks } from '../../src/discover/asset-merge.js';
import { DEFAULT_SETTINGS } from '../../src/settings/model.js';
import { spoofedSourcesPcap } from '../helpers/hostile-captures.js';
import { weir } from '../helpers/weir-cli.js';

/** A small seeded generator (tests must be repeatable). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ip4 = (s: string): number[] => s.split('.').map(Number);
const mac = (n: number): number[] => [0x02, 0, 0, 0, (n >> 8) & 255, n & 255];

/** pcap records: [seconds, Ethernet frame] each. */
function pcap(frames: [number, number[]][]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const parts = [head];
  for (const [t, f] of frames) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(t), 0);
    r.writeUInt32LE(Math.round((t % 1) * 1e6), 4);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, Buffer.from(f));
  }
  return Buffer.concat(parts);
}

function udp(
  srcMac: number,
  src: string,
  dst: string,
  sport: number,
  dport: number,
  len: number,
): number[] {
  const payload = new Array<number>(len).fill(0x41);
  const total = 20 + 8 + len;
  const ipHdr = [
    0x45,
    0,
    total >> 8,
    total & 255,
    0,
    1,
    0,
    0,
    64,
    17,
    0,
    0,
    ...ip4(src),
    ...ip4(dst),
  ];
  const u = [
    sport >> 8,
    sport & 255,
    dport >> 8,
    dport & 255,
    (8 + len) >> 8,
    (8 + len) & 255,
    0,
    0,
  ];
  return [...mac(1), ...mac(srcMac), 0x08, 0x00, ...ipHdr, ...u, ...payload];
}

/** An ARP reply: `spa` is at `sha` (an identity fact: the MAC behind the address, creating its asset). */
function arp(sha: number, spa: string, tpa: string): number[] {
  return [
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...mac(sha),
    0x08,
    0x06,
    ...[0, 1, 8, 0, 6, 4, 0, 2],
    ...mac(sha),
    ...ip4(spa),
    ...mac(2),
    ...ip4(tpa),
  ];
}

/**
 * The same hosts over many address pairs in interleaved order, so their facts land on different shards: MAC
 * changes, a router's MAC carrying many and public addresses, ARP announcing hosts before (and after) they
 * send, traffic to a host before it sends anything, time running backwards, subnet and all-ones broadcasts.
 */
function interleaved(seed: number, frames: number): Buffer {
  const r = rng(seed);
  const hosts = Array.from({ length: 24 }, (_, i) => `10.0.${i % 3}.${10 + i}`);
  const out: [number, number[]][] = [];
  let t = 1_700_000_000;
  for (let i = 0; i < frames; i++) {
    t += r() < 0.05 ? -r() * 3 : r() * 0.01;
    const k = r();
    if (i % 97 === 0) {
      // Four hosts each show MAC 90 once among their own (so it carries four addresses: a router's), the
      // last of them for good: whether that host sits behind a router depends on every one of those frames.
      const j = (i / 97) % 8;
      const src = `10.0.5.${1 + (j % 4)}`;
      const late = i > frames / 2;
      out.push([t, udp(late && (j < 4 || j === 7) ? 90 : 80 + (j % 4), src, hosts[j]!, 7, 8, 9)]);
    } else if (k < 0.04) {
      // ARP announcements, some of hosts that have not sent (or never send) an IP packet yet.
      const h =
        r() < 0.5 ? hosts[Math.floor(r() * hosts.length)]! : `10.0.9.${Math.floor(r() * 8)}`;
      out.push([t, arp(100 + Math.floor(r() * 40), h, hosts[0]!)]);
    } else if (k < 0.08) {
      // Public addresses and many private ones behind one router MAC (gateway recognition).
      const src =
        r() < 0.5
          ? `8.8.${Math.floor(r() * 4)}.${Math.floor(r() * 3)}`
          : `10.1.0.${Math.floor(r() * 9)}`;
      out.push([t, udp(7, src, hosts[Math.floor(r() * hosts.length)]!, 5000, 47808, 10)]);
    } else if (k < 0.12) {
      const dst = r() < 0.5 ? '10.0.0.255' : r() < 0.5 ? '255.255.255.255' : '224.0.0.5';
      out.push([
        t,
        udp(
          20 + Math.floor(r() * 24),
          hosts[Math.floor(r() * hosts.length)]!,
          dst,
          47808,
          47808,
          20,
        ),
      ]);
    } else if (k < 0.16) {
      // Traffic to hosts that only later (or never) send, and that ARP names.
      out.push([
        t,
        udp(
          30,
          hosts[Math.floor(r() * hosts.length)]!,
          `10.0.9.${Math.floor(r() * 8)}`,
          4000,
          502,
          12,
        ),
      ]);
    } else {
      const a = Math.floor(r() * hosts.length);
      let b = Math.floor(r() * hosts.length);
      if (b === a) b = (b + 1) % hosts.length;
      // Each host's usual MAC, sometimes another (a NIC swapped, a spoofer), sometimes none of its own.
      const m = r() < 0.9 ? 20 + a : r() < 0.5 ? 60 + Math.floor(r() * 5) : 20 + b;
      out.push([t, udp(m, hosts[a]!, hosts[b]!, 1024 + a, 2000 + b, Math.floor(r() * 60))]);
    }
  }
  return pcap(out);
}

function oneThread(files: string[], limits: InventoryLimits = {}): string {
  const inv = new Inventory(limits);
  const stats = files.map((f) => {
    const p = new DissectPipeline([inv]);
    readCaptureSync(f, (fr) => p.push(fr));
    return { stats: p.stats, capped: { ...inv.capped } };
  });
  return JSON.stringify({ inventory: inv.snapshot(), stats });
}

/** The shards keep the asset facts (books); null when the merge says it cannot be exact. */
async function withBooks(
  files: string[],
  n: number,
  inline: number | undefined,
  limits: InventoryLimits = {},
): Promise<string | null> {
  const inv = new Inventory(limits, { edges: false });
  const run = new ShardedRun(n, {
    maxEdges: DEFAULT_SETTINGS.inventory.max_edges,
    dissect: DEFAULT_SETTINGS.dissect,
    inline: inline === undefined ? undefined : (init) => new DiscoverShard(init, true),
    mainShare: inline,
    books: 2 * (limits.maxAssets ?? DEFAULT_SETTINGS.inventory.max_assets) + 1024,
  });
  const state = { oddAsset: false };
  try {
    const stats = [];
    for (const f of files) {
      const r = await run.runFile(f, {
        onPacket: () => assert.fail('the main thread sees no packet with books'),
        onMessage: () => assert.fail('messages come back with the books'),
      });
      if (!mergeAssetBooks(inv, r.books, r.messages, state)) return null;
      stats.push({ stats: r.stats, capped: { ...inv.capped } });
    }
    return JSON.stringify({ inventory: inv.snapshotWith(await run.finish()), stats });
  } finally {
    await run.close();
  }
}

const SPLITS: [number, number | undefined][] = [
  [2, undefined],
  [2, 0],
  [2, 0.5],
  [2, 1],
  [3, 0.3],
];

test('asset facts kept by the shards and merged equal one thread: the same hosts over many pairs, interleaved', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-books-'));
  try {
    const a = path.join(dir, 'a.pcap'),
      b = path.join(dir, 'b.pcap');
    writeFileSync(a, interleaved(1, 6000));
    writeFileSync(b, interleaved(2, 3000));
    for (const files of [[a], [a, b]]) {
      const one = oneThread(files);
      const snap = JSON.parse(one) as { inventory: { assets: { id: string }[] } };
      // The capture does what it says: announced-only hosts, a router, public senders.
      assert.ok(snap.inventory.assets.some((x) => x.id.startsWith('10.0.9.')));
      assert.ok(snap.inventory.assets.some((x) => x.id.startsWith('8.8.')));
      const a4 = (snap.inventory.assets as { id: string; behindRouter?: { mac: string } }[]).find(
        (x) => x.id === '10.0.5.4',
      );
      assert.equal(a4?.behindRouter?.mac, '02:00:00:00:00:5a');
      for (const [n, share] of SPLITS)
        assert.equal(
          await withBooks(files, n, share),
          one,
          `${files.length} file(s), ${n} shards, share ${share}`,
        );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('asset books give up (never a different result) where max_assets, the MAC table or an odd address decide; weir discover --workers 2 equals one thread there', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-books-'));
  try {
    // A flood of spoofed senders past max_assets (every frame a new sender, MAC and edge).
    const flood = path.join(dir, 'flood.pcap');
    writeFileSync(flood, spoofedSourcesPcap(3000));
    assert.equal(await withBooks([flood], 2, 0, { maxAssets: 500 }), null);
    // Under the bound the same flood merges exactly.
    assert.equal(
      await withBooks([flood], 2, 0, { maxAssets: 5000 }),
      oneThread([flood], { maxAssets: 5000 }),
    );
    // ARP naming the all-ones address: it becomes an asset, and every broadcast after counts as received by it.
    const odd = path.join(dir, 'odd.pcap');
    writeFileSync(
      odd,
      pcap([
        [1, udp(20, '10.0.0.10', '255.255.255.255', 1, 2, 5)],
        [2, arp(21, '255.255.255.255', '10.0.0.10')],
        [3, udp(20, '10.0.0.10', '255.255.255.255', 1, 2, 5)],
      ]),
    );
    assert.equal(await withBooks([odd], 2, 0), null);
    // One address behind ever more MACs, past the MAC table's bound (max_assets).
    const macs = path.join(dir, 'macs.pcap');
    writeFileSync(
      macs,
      pcap(
        Array.from({ length: 400 }, (_, i): [number, number[]] => [
          1 + i,
          udp(300 + (i % 120), '10.0.0.10', `10.0.0.${20 + (i % 7)}`, 1, 2, 5),
        ]),
      ),
    );
    assert.equal(await withBooks([macs], 2, 0, { maxAssets: 50 }), null);
    // The CLI's split (the main thread keeps the asset half) gives one thread's bytes on all of them: past
    // max_assets it reads the file again on one thread, since the shards started edges for senders the
    // bound turned away (before: 3,000 edges against one thread's 500 on the flood).
    for (const [file, extra] of [
      [flood, ['--max-assets', '500']],
      [flood, ['--max-assets', '5000']],
      [odd, []],
      [macs, ['--max-assets', '50']],
    ] as const) {
      const outs: string[] = [];
      for (const w of ['1', '2']) {
        const r = await weir(['discover', '--json', '--workers', w, ...extra, file]);
        assert.equal(r.code, 0, r.stderr);
        outs.push(r.stdout);
      }
      assert.equal(outs[1], outs[0], `${path.basename(file)} ${extra.join(' ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
