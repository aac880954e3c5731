// One shard of a sharded run (src/discover/sharded.ts): a worker thread that dissects the frames of each chunk
// the main thread routed to it (TCP reassembly, per-pair datagram state), keeps their edges, and hands the main
// thread, per chunk, the few messages the asset half reads, tagged with their frame. Foreign frames are skipped
// unparsed; only the server ends they show (from the main thread's index) reach the edge table.
import { parentPort, workerData } from 'node:worker_threads';
import { newFrame } from '../capture/frame.js';
import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import { DissectPipeline } from '../dissect/pipeline.js';
import type { Stage } from '../dissect/stage.js';
import { EdgeBook } from './edge-book.js';
import { Inventory, isHostAddress } from './inventory.js';
import { copyAssetMessage, copyMessage, slimForAssets, threadCpuSeconds } from './shard.js';
import { ChunkView } from './shard-index.js';
import {
  anomalyCounts,
  type KeyFirsts,
  type ShardInit,
  type ToShard,
  type FromShard,
  Forwarded,
} from './shard-protocol.js';

/** CPU seconds this thread had used once its modules were loaded (its start-up). */
const startCpu = threadCpuSeconds();
const init = workerData as ShardInit;
const port = parentPort!;
if (!init.route.hostsOnly || init.route.from !== -Infinity)
  throw new Error('the inventory shard needs the inventory routing (src/discover/shard-index.ts)');
const capped: Record<string, number> = {};
const edges = new EdgeBook(init.maxEdges, capped);
const frame = newFrame();
const forwarded = new Forwarded();
let frameIndex = 0;
let pipeline: DissectPipeline | null = null;
/**
 * The frame at which each protocol and anomaly key of this file's statistics first counted: the main thread
 * lists merged keys in that order, as one pipeline's statistics would list them.
 */
let firsts: KeyFirsts = { protocols: {}, anomalies: {} };

const edgeStage: Stage = {
  onPacket(p: Packet): void {
    edges.clear();
    if (p.ipVersion === 0 || p.fragment || !isHostAddress(p)) return;
    edges.onPacket(p, true);
  },
  onMessage(m: Message): void {
    if (firsts.protocols[m.protocol] === undefined) firsts.protocols[m.protocol] = frameIndex;
    edges.onMessageFirst(m);
    // Copied: the pipeline reuses its message objects. Only the rare messages the asset half reads travel.
    if (Inventory.wantsMessage(m)) {
      const slim = slimForAssets(m);
      forwarded.push(frameIndex, slim ? copyAssetMessage(m) : copyMessage(m), slim);
    }
    edges.onMessage(m);
  },
};

/** This worker's frames of a chunk, in order; of the others only the server ends they show first. */
function walk(v: ChunkView): void {
  const me = init.shard,
    owner = v.owner,
    server = v.server;
  for (let i = 0, n = v.count; i < n; i++) {
    if (owner[i] === me) {
      v.frame(i, frame);
      frameIndex = frame.index;
      pipeline!.push(frame);
    } else if (server[i]! >= 0) edges.noteServerKey(server[i]!);
  }
}

function send(msg: FromShard): void {
  port.postMessage(msg);
}

port.on('message', (msg: ToShard) => {
  try {
    switch (msg.t) {
      case 'file':
        edges.seqBase = msg.index * 2 ** 32;
        pipeline = new DissectPipeline([edgeStage], init.dissect);
        firsts = { protocols: {}, anomalies: {} };
        pipeline.stats.anomalies = anomalyCounts(firsts, () => frameIndex);
        break;
      case 'chunk':
        walk(new ChunkView(msg.frames));
        send({ t: 'chunk', k: msg.k, ...forwarded.take() });
        break;
      case 'endFile':
        const st = pipeline!.stats;
        send({
          t: 'file',
          stats: { ...st, anomalies: { ...st.anomalies } },
          firsts,
          capped: { ...capped },
        });
        pipeline = null;
        break;
      case 'finish':
        send({ t: 'edges', records: edges.records(false), cpu: threadCpuSeconds(), startCpu });
        break;
    }
  } catch (e) {
    send({ t: 'error', message: (e as Error).stack ?? String(e) });
  }
});
