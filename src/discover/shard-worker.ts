// One shard of a sharded run (src/discover/sharded.ts): a worker thread that parses every chunk of the capture,
// dissects the frames whose address pair hashes to it (TCP reassembly, per-pair datagram state), keeps their
// edges, and hands the main thread, per chunk, the few messages the asset half reads, tagged with their frame.
import { parentPort, workerData } from 'node:worker_threads';
import { CaptureParser } from '../capture/parser.js';
import type { Frame } from '../capture/frame.js';
import { decodeFrame } from '../dissect/link.js';
import { newPacket, type Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import { DissectPipeline } from '../dissect/pipeline.js';
import type { Stage } from '../dissect/stage.js';
import { EdgeBook } from './edge-book.js';
import { Inventory, isHostAddress } from './inventory.js';
import { copyMessage, RawIpv4, shardOf, shardOf4, threadCpuSeconds } from './shard.js';
import {
  anomalyCounts,
  type KeyFirsts,
  type ShardInit,
  type ToShard,
  type FromShard,
  type TaggedMessage,
} from './shard-protocol.js';

/** CPU seconds this thread had used once its modules were loaded (its start-up). */
const startCpu = threadCpuSeconds();
const init = workerData as ShardInit;
const port = parentPort!;
const capped: Record<string, number> = {};
const edges = new EdgeBook(init.maxEdges, capped);
const pkt: Packet = newPacket();
const raw = new RawIpv4();
let forwarded: TaggedMessage[] = [];
let frameIndex = 0;
let parser: CaptureParser | null = null;
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
    if (Inventory.wantsMessage(m)) forwarded.push({ f: frameIndex, m: copyMessage(m) });
    edges.onMessage(m);
  },
};

function onFrame(frame: Frame): void {
  if (raw.parse(frame)) {
    if (shardOf4(raw.src, raw.dst, init.shards) === init.shard) {
      frameIndex = frame.index;
      pipeline!.push(frame);
    } else if (!raw.fragment && raw.fromHost)
      edges.noteServer(raw.src, raw.dst, raw.proto, raw.srcPort, raw.dstPort);
    return;
  }
  decodeFrame(frame, pkt);
  if (shardOf(pkt, init.shards) === init.shard) {
    frameIndex = frame.index;
    pipeline!.push(frame);
  } else if (pkt.ipVersion === 4 && !pkt.fragment && isHostAddress(pkt)) {
    // Another shard keeps this edge; its server end still orients same-port peers here.
    edges.noteServer(pkt.srcIp4, pkt.dstIp4, pkt.ipProto, pkt.srcPort, pkt.dstPort);
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
        parser = new CaptureParser(onFrame);
        pipeline = new DissectPipeline([edgeStage], init.dissect);
        firsts = { protocols: {}, anomalies: {} };
        pipeline.stats.anomalies = anomalyCounts(firsts, () => frameIndex);
        break;
      case 'chunk':
        parser!.feed(new Uint8Array(msg.buf, 0, msg.len));
        send({ t: 'chunk', k: msg.k, msgs: forwarded });
        forwarded = [];
        break;
      case 'endFile':
        parser!.end();
        const st = pipeline!.stats;
        send({
          t: 'file',
          stats: { ...st, anomalies: { ...st.anomalies } },
          firsts,
          capped: { ...capped },
        });
        parser = null;
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
