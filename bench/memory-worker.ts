// One process, one plant: ASSETS devices and EDGES conversations (each a Modbus/TCP read of its own range, so
// every edge carries a function, an address range and a polling timer), built from synthetic frames through
// the real pipeline into the inventory; prints the peak RSS, the heap and what the inventory holds.
import { newFrame, LinkType } from '../src/capture/frame.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';

const ASSETS = Number(process.argv[2] ?? 100_000);
const EDGES = Number(process.argv[3] ?? 1_000_000);
const perClient = Math.ceil(EDGES / ASSETS);

const inv = new Inventory({ maxAssets: ASSETS, maxEdges: EDGES });
const pipeline = new DissectPipeline([inv]);
const frame = newFrame();
const b = new Uint8Array(66);
frame.data = b;
frame.offset = 0;
frame.capLen = frame.origLen = b.length;
frame.linkType = LinkType.ETHERNET;
// Ethernet: locally administered MACs, IPv4.
b.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
// IPv4 header: 52 bytes total, TTL 64, TCP; addresses filled per frame (checksums are not checked).
b.set([0x45, 0, 0, 52, 0, 0, 0x40, 0, 64, 6, 0, 0], 14);
// TCP header: data offset 5, PSH+ACK.
b.set([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0], 34);
// MBAP + read holding registers (FC 3), 10 registers.
b.set([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10], 54);

const ip = (i: number): number =>
  (10 << 24) | ((i >> 16) << 16) | (((i >> 8) & 255) << 8) | (i & 255);
const put32 = (o: number, v: number): void => {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
};
const t0 = process.hrtime.bigint();
let n = 0;
for (let k = 0; k < perClient && n < EDGES; k++) {
  for (let c = 0; c < ASSETS && n < EDGES; c++, n++) {
    const server = (c + 1 + k * 7919) % ASSETS;
    put32(26, ip(c + 1));
    put32(30, ip(server + 1 === c + 1 ? ((server + 1) % ASSETS) + 1 : server + 1));
    // Client port per edge, so every half-stream is new too.
    const port = 1024 + ((c * perClient + k) % 60000);
    b[34] = port >> 8;
    b[35] = port & 255;
    b[36] = 502 >> 8;
    b[37] = 502 & 255;
    // Each edge reads its own register range.
    b[62] = (k >> 8) & 255;
    b[63] = k & 255;
    frame.index = n + 1;
    frame.ts = 1_700_000_000 + n / 1e5;
    pipeline.push(frame);
  }
}
const built = Number(process.hrtime.bigint() - t0) / 1e9;
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const { heapUsed: heapBuilt, rss: rssBuilt } = process.memoryUsage();
// Read out as `weir discover --json` does: the assets held, each edge record built, serialised and dropped.
const r = inv.readOut();
let edges = 0,
  jsonBytes = 0;
for (const a of r.assets) jsonBytes += JSON.stringify(a).length;
for (const e of r.edges()) {
  edges++;
  jsonBytes += JSON.stringify(e).length;
}
const readOutSeconds = Number(process.hrtime.bigint() - t0) / 1e9 - built;
const ru = process.resourceUsage();
const mem = process.memoryUsage();
process.stdout.write(
  JSON.stringify({
    frames: n,
    assets: r.assets.length,
    edges,
    capped: inv.capped,
    maxRssBytes: ru.maxRSS * 1024,
    heapUsedBytes: mem.heapUsed,
    heapBuiltBytes: heapBuilt,
    rssBuiltBytes: rssBuilt,
    seconds: built,
    readOutSeconds,
    jsonBytes,
  }) + '\n',
);
