import type { Message } from '../dissect/message.js';
import { between, type Stage } from '../dissect/stage.js';
import type { Baseline } from '../discover/baseline.js';
import { isGroupIoMessage } from '../discover/io-connections.js';
import { PipelineShard } from '../discover/shard-core.js';
import { ChunkView } from '../discover/shard-index.js';
import type { FromShard, ShardInit } from '../discover/shard-protocol.js';
import type { Settings } from '../settings/model.js';
import { DetectionEngine, type Mute } from './engine.js';
import { allDetectors } from './detectors/index.js';
import {
  CROSS_FLOW_PROTOCOLS,
  perEdge,
  type DetectShardInit,
  type DetectShardResult,
} from './shard-split.js';

/**
 * A detection shard: dissects the frames of each chunk the main thread routed to it and runs the per-edge
 * detectors on them; the capture clock (ticks) follows every frame's time and same-port orientation the server
 * ends the main thread found on the others, which stay unparsed. The messages the main thread's detectors read
 * (the cross-flow ones' and group I/O's, see mainThreadDetectors) go back per chunk, tagged with their frame.
 */
export class DetectShard extends PipelineShard {
  private readonly engine: DetectionEngine;
  private readonly from: number;
  private readonly stages: Stage[];
  /** What this shard's detectors' bounds forgot (cumulative over the files). */
  private readonly cappedRecords: Record<string, number> = {};

  /**
   * On the main thread its start data is the caller's own objects, not a copy: the engine only reads the
   * baseline, settings and mutes (its compiled profiles and per-edge state are its own), so the main thread's
   * cross-flow engine and this one share them as two readers.
   */
  constructor(init: ShardInit) {
    super(init, false);
    const opts = init.extra as DetectShardInit;
    // Same-port peers are oriented by the server ends the main thread marks: they must be the ones this engine notes.
    if (init.route.hostsOnly || init.route.from !== opts.from)
      throw new Error('the detect shard needs detectRoute(from) (src/discover/shard-index.ts)');
    const settings = opts.settings as Settings['detect'];
    // Zones are the main thread's to name (the policy stays there): it fills them in on the merged detections.
    this.engine = new DetectionEngine(opts.baseline as Baseline, {
      settings,
      windowSeconds: opts.windowSeconds,
      mutes: opts.mutes as Mute[],
      decoys: new Set(opts.decoys),
      // Contact with a decoy is the main thread's to find: it sees the ARP frames and every pair's packets, which
      // one detection folds together (an ARP who-has and the SYN after it), while the shards each see one.
      decoyContact: false,
      // The I/O tables' share of their bound: reaching it is counted, and the run then reads again on one thread.
      detectors: perEdge(
        allDetectors(settings, {
          maxIoConnections: init.maxIoConnections,
          capped: this.cappedRecords,
          // I/O sent to a group is the main thread's (mainThreadDetectors).
          ioScope: 'pair',
        }),
      ),
    });
    this.from = opts.from;
    const forward: Stage = {
      onMessage: (m: Message): void => {
        if (CROSS_FLOW_PROTOCOLS.has(m.protocol) || isGroupIoMessage(m))
          this.forwarded.push(this.frameIndex, m, false);
      },
    };
    const stats: Stage = { onMessage: (m: Message): void => this.noteProtocol(m) };
    // The forwarder first: the main thread's detectors get the message as the pipeline made it.
    this.stages = [stats, between(this.from, Infinity, forward, this.engine)];
  }

  /** This shard's frames of a chunk, in order; of the others their time and the server ends they show first. */
  protected walk(v: ChunkView): void {
    const me = this.init.shard,
      owner = v.owner,
      server = v.server,
      ts = v.ts,
      from = this.from,
      engine = this.engine,
      frame = this.frame,
      pipeline = this.pipeline!;
    for (let i = 0, n = v.count; i < n; i++) {
      if (owner[i] === me) {
        v.frame(i, frame);
        this.frameIndex = frame.index;
        pipeline.push(frame);
      } else if (ts[i]! >= from) {
        engine.clock(ts[i]!);
        // The main thread marks server ends only from `from` on, as this engine would note them.
        if (server[i]! >= 0) engine.noteServerKey(server[i]!);
      }
    }
  }

  protected startFile(): Stage[] {
    return this.stages;
  }

  protected capped(): Record<string, number> {
    return { ...this.cappedRecords };
  }

  protected finish(): FromShard {
    const engine = this.engine;
    const result: DetectShardResult = { detections: engine.finish(), muted: engine.muted };
    return { t: 'edges', records: [], cpu: -1, startCpu: -1, extra: result };
  }
}
