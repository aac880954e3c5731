// One shard of a sharded `weir detect` (src/discover/sharded.ts runs it): a worker thread that dissects the
// frames of each chunk the main thread routed to it and runs the per-edge detectors on them; the capture clock
// (ticks) follows every frame's time and same-port orientation the server ends the main thread found on the
// others, which stay unparsed. The messages the main thread's cross-flow detectors read go back per chunk,
// tagged with their frame.
import { parentPort, workerData } from 'node:worker_threads';
import { newFrame } from '../capture/frame.js';
import type { Message } from '../dissect/message.js';
import { DissectPipeline } from '../dissect/pipeline.js';
import { between, type Stage } from '../dissect/stage.js';
import type { Baseline } from '../discover/baseline.js';
import { copyMessage, threadCpuSeconds } from '../discover/shard.js';
import { ChunkView } from '../discover/shard-index.js';
import {
  anomalyCounts,
  type FromShard,
  type ShardInit,
  Forwarded,
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
// Same-port peers are oriented by the server ends the main thread marks: they must be the ones this engine notes.
if (init.route.hostsOnly || init.route.from !== opts.from)
  throw new Error('the detect shard needs detectRoute(from) (src/discover/shard-index.ts)');
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
const frame = newFrame();
const forwarded = new Forwarded();
let frameIndex = 0;
let pipeline: DissectPipeline | null = null;
let firsts: KeyFirsts = { protocols: {}, anomalies: {} };

const forward: Stage = {
  onMessage(m: Message): void {
    if (CROSS_FLOW_PROTOCOLS.has(m.protocol)) forwarded.push(frameIndex, copyMessage(m), false);
  },
};
const stats: Stage = {
  onMessage(m: Message): void {
    if (firsts.protocols[m.protocol] === undefined) firsts.protocols[m.protocol] = frameIndex;
  },
};
// The forwarder first: the main thread's detectors get the message as the pipeline made it.
const stages = [stats, between(from, Infinity, forward, engine)];

/** This worker's frames of a chunk, in order; of the others their time and the server ends they show first. */
function walk(v: ChunkView): void {
  const me = init.shard,
    owner = v.owner,
    server = v.server,
    ts = v.ts;
  for (let i = 0, n = v.count; i < n; i++) {
    if (owner[i] === me) {
      v.frame(i, frame);
      frameIndex = frame.index;
      pipeline!.push(frame);
    } else if (ts[i]! >= from) {
      engine.clock(ts[i]!);
      // The main thread marks server ends only from `from` on, as this engine would note them.
      if (server[i]! >= 0) engine.noteServerKey(server[i]!);
    }
  }
}

function send(msg: FromShard): void {
  port.postMessage(msg);
}

port.on('message', (msg: ToShard) => {
  try {
    switch (msg.t) {
      case 'file':
        pipeline = new DissectPipeline(stages, init.dissect);
        firsts = { protocols: {}, anomalies: {} };
        pipeline.stats.anomalies = anomalyCounts(firsts, () => frameIndex);
        break;
      case 'chunk':
        walk(new ChunkView(msg.frames));
        send({ t: 'chunk', k: msg.k, ...forwarded.take() });
        break;
      case 'endFile': {
        const st = pipeline!.stats;
        send({
          t: 'file',
          stats: { ...st, anomalies: { ...st.anomalies } },
          firsts,
          capped: {},
        });
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
