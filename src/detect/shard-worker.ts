// One shard of a sharded `weir detect` (src/discover/sharded.ts runs it): a worker thread that parses every
// chunk of the capture, dissects the frames whose address pair hashes to it, and runs the per-edge detectors
// on them; the capture clock (ticks) and same-port orientation follow every frame. The messages the main
// thread's cross-flow detectors read go back per chunk, tagged with their frame.
import { parentPort, workerData } from 'node:worker_threads';
import { CaptureParser } from '../capture/parser.js';
import type { Frame } from '../capture/frame.js';
import { decodeFrame } from '../dissect/link.js';
import { newPacket, type Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import { DissectPipeline } from '../dissect/pipeline.js';
import { between, type Stage } from '../dissect/stage.js';
import type { Baseline } from '../discover/baseline.js';
import { copyMessage, RawIpv4, shardOf, shardOf4, threadCpuSeconds } from '../discover/shard.js';
import {
  anomalyCounts,
  type FromShard,
  type ShardInit,
  type TaggedMessage,
  type ToShard,
  type KeyFirsts,
} from '../discover/shard-protocol.js';
import type { Settings } from '../settings/model.js';
import { DetectionEngine, type Mute } from './engine.js';
import { allDetectors } from './detectors/index.js';
import {
  CROSS_FLOW_PROTOCOLS,
  perEdge,
  type DetectShardInit,
  type DetectShardResult,
} from './shard-split.js';

/** CPU seconds this thread had used once its modules were loaded (its start-up). */
const startCpu = threadCpuSeconds();
const init = workerData as ShardInit;
const opts = init.extra as DetectShardInit;
const port = parentPort!;
const settings = opts.settings as Settings['detect'];
// Zones are the main thread's to name (the policy stays there): it fills them in on the merged detections.
const engine = new DetectionEngine(opts.baseline as Baseline, {
  settings,
  windowSeconds: opts.windowSeconds,
  mutes: opts.mutes as Mute[],
  decoys: new Set(opts.decoys),
  detectors: perEdge(allDetectors(settings)),
});
const from = opts.from;
const pkt: Packet = newPacket();
const raw = new RawIpv4();
let forwarded: TaggedMessage[] = [];
let frameIndex = 0;
let parser: CaptureParser | null = null;
let pipeline: DissectPipeline | null = null;
let firsts: KeyFirsts = { protocols: {}, anomalies: {} };

const forward: Stage = {
  onMessage(m: Message): void {
    if (CROSS_FLOW_PROTOCOLS.has(m.protocol)) forwarded.push({ f: frameIndex, m: copyMessage(m) });
  },
};
const stats: Stage = {
  onMessage(m: Message): void {
    if (firsts.protocols[m.protocol] === undefined) firsts.protocols[m.protocol] = frameIndex;
  },
};
// The forwarder first: the main thread's detectors get the message as the pipeline made it.
const stages = [stats, between(from, Infinity, forward, engine)];

function onFrame(frame: Frame): void {
  if (raw.parse(frame)) {
    if (shardOf4(raw.src, raw.dst, init.shards) === init.shard) {
      frameIndex = frame.index;
      pipeline!.push(frame);
    } else if (frame.ts >= from) {
      engine.clock(frame.ts);
      if (!raw.fragment) engine.noteServer(raw.src, raw.dst, raw.proto, raw.srcPort, raw.dstPort);
    }
    return;
  }
  decodeFrame(frame, pkt);
  if (shardOf(pkt, init.shards) === init.shard) {
    frameIndex = frame.index;
    pipeline!.push(frame);
  } else if (frame.ts >= from) {
    engine.clock(frame.ts);
    if (pkt.ipVersion === 4 && !pkt.fragment)
      engine.noteServer(pkt.srcIp4, pkt.dstIp4, pkt.ipProto, pkt.srcPort, pkt.dstPort);
  }
}

function send(msg: FromShard): void {
  port.postMessage(msg);
}

port.on('message', (msg: ToShard) => {
  try {
    switch (msg.t) {
      case 'file':
        parser = new CaptureParser(onFrame);
        pipeline = new DissectPipeline(stages, init.dissect);
        firsts = { protocols: {}, anomalies: {} };
        pipeline.stats.anomalies = anomalyCounts(firsts, () => frameIndex);
        break;
      case 'chunk':
        parser!.feed(new Uint8Array(msg.buf, 0, msg.len));
        send({ t: 'chunk', k: msg.k, msgs: forwarded });
        forwarded = [];
        break;
      case 'endFile': {
        parser!.end();
        const st = pipeline!.stats;
        send({
          t: 'file',
          stats: { ...st, anomalies: { ...st.anomalies } },
          firsts,
          capped: {},
        });
        parser = null;
        pipeline = null;
        break;
      }
      case 'finish': {
        const result: DetectShardResult = { detections: engine.finish(), muted: engine.muted };
        send({ t: 'edges', records: [], cpu: threadCpuSeconds(), startCpu, extra: result });
        break;
      }
    }
  } catch (e) {
    send({ t: 'error', message: (e as Error).stack ?? String(e) });
  }
});
