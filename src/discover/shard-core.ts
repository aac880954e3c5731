import { parentPort, workerData } from 'node:worker_threads';
import { newFrame } from '../capture/frame.js';
import type { Packet } from '../dissect/packet.js';
import type { Message } from '../dissect/message.js';
import { DissectPipeline } from '../dissect/pipeline.js';
import type { Stage } from '../dissect/stage.js';
import { EdgeBook } from './edge-book.js';
import { Inventory, isHostAddress } from './inventory.js';
import { slimForAssets, threadCpuSeconds } from './shard.js';
import { ChunkView } from './shard-index.js';
import {
  anomalyCounts,
  Forwarded,
  packEdges,
  type FromShard,
  type KeyFirsts,
  type ShardInit,
  type ToShard,
} from './shard-protocol.js';

/**
 * One shard's work, on a worker thread (serveShard) or on the main thread itself (the shard the main thread
 * keeps when it is one of the run's shards): each request of the main thread answered, or null.
 */
export interface ShardCore {
  handle(msg: ToShard): FromShard | null;
}

/**
 * Run a shard core as this worker thread's whole job. `make` builds it from the worker's start data; what it
 * or a request throws goes back to the main thread as an error.
 */
export function serveShard(make: (init: ShardInit, inline: boolean) => ShardCore): void {
  /** CPU seconds this thread had used once its modules were loaded (its start-up). */
  const startCpu = threadCpuSeconds();
  const port = parentPort!;
  const send = (msg: FromShard): void => port.postMessage(msg);
  let core: ShardCore | null = null;
  try {
    core = make(workerData as ShardInit, false);
  } catch (e) {
    send({ t: 'error', message: (e as Error).stack ?? String(e) });
  }
  port.on('message', (msg: ToShard) => {
    if (core === null) return;
    try {
      const r = core.handle(msg);
      if (r === null) return;
      if (r.t === 'edges') {
        const packed = packEdges(r.records);
        r.records = packed.records;
        r.json = packed.json;
        r.cpu = threadCpuSeconds();
        r.startCpu = startCpu;
      }
      send(r);
    } catch (e) {
      send({ t: 'error', message: (e as Error).stack ?? String(e) });
    }
  });
}

/**
 * What the discovery and detection shards share: one dissect pipeline per file over the frames of each chunk
 * the main thread routed here, the frame being pushed (messages are tagged with it), the frame at which each
 * protocol and anomaly key of this file's statistics first counted (the main thread lists merged keys in that
 * order, as one pipeline's statistics would list them), and the messages forwarded per chunk. What each walks
 * of the foreign frames, its stages and its result are its own.
 */
export abstract class PipelineShard implements ShardCore {
  protected readonly frame = newFrame();
  protected readonly forwarded: Forwarded;
  protected frameIndex = 0;
  protected pipeline: DissectPipeline | null = null;
  protected firsts: KeyFirsts = { protocols: {}, anomalies: {} };

  /** `columns`: forwarded messages travel to another thread as columns (src/discover/shard-slim.ts). */
  constructor(
    protected readonly init: ShardInit,
    columns: boolean,
  ) {
    this.forwarded = new Forwarded(columns);
  }

  /** Notes the frame at which the message's protocol first counted in this file. */
  protected noteProtocol(m: Message): void {
    if (this.firsts.protocols[m.protocol] === undefined)
      this.firsts.protocols[m.protocol] = this.frameIndex;
  }

  /** This shard's frames of a chunk, in order, and what it notes of the others. */
  protected abstract walk(v: ChunkView): void;
  /** The stages of a new file's pipeline; `index` is the file's. */
  protected abstract startFile(index: number): Stage[];
  /** The records of a file capped (a copy). */
  protected abstract capped(): Record<string, number>;
  protected abstract finish(): FromShard;

  handle(msg: ToShard): FromShard | null {
    switch (msg.t) {
      case 'file': {
        const p = (this.pipeline = new DissectPipeline(
          this.startFile(msg.index),
          this.init.dissect,
        ));
        const firsts = (this.firsts = { protocols: {}, anomalies: {} });
        p.stats.anomalies = anomalyCounts(firsts, () => this.frameIndex);
        return null;
      }
      case 'chunk':
        this.walk(new ChunkView(msg.frames));
        return { t: 'chunk', k: msg.k, ...this.forwarded.take() };
      case 'endFile': {
        const st = this.pipeline!.stats;
        this.pipeline = null;
        return {
          t: 'file',
          stats: { ...st, anomalies: { ...st.anomalies } },
          firsts: this.firsts,
          capped: this.capped(),
        };
      }
      case 'finish':
        return this.finish();
    }
  }
}

/**
 * A discovery shard: dissects the frames of each chunk the main thread routed to it (TCP reassembly, per-pair
 * datagram state), keeps their edges, and hands back, per chunk, the few messages the asset half reads, tagged
 * with their frame. Foreign frames are skipped unparsed; only the server ends they show (from the main
 * thread's index) reach the edge table.
 */
export class DiscoverShard extends PipelineShard {
  private readonly cappedRecords: Record<string, number> = {};
  private readonly edges: EdgeBook;
  private readonly stage: Stage;

  /** `inline`: runs on the main thread, so its messages need no text form to travel. */
  constructor(init: ShardInit, inline: boolean) {
    super(init, !inline);
    if (!init.route.hostsOnly || init.route.from !== -Infinity)
      throw new Error(
        'the inventory shard needs the inventory routing (src/discover/shard-index.ts)',
      );
    // The I/O a target sends to a group is told apart only on one thread (IoScope): a worker keeps point-to-point.
    this.edges = new EdgeBook(init.maxEdges, this.cappedRecords, init.maxIoConnections, 'pair');
    const edges = this.edges;
    this.stage = {
      onPacket(p: Packet): void {
        edges.clear();
        if (p.ipVersion === 0 || p.fragment || !isHostAddress(p)) return;
        edges.onPacket(p, true);
      },
      onMessage: (m: Message): void => {
        this.noteProtocol(m);
        edges.onMessageFirst(m);
        // Only the rare messages the asset half reads travel (copied: the pipeline reuses its message objects).
        if (Inventory.wantsMessage(m)) this.forwarded.push(this.frameIndex, m, slimForAssets(m));
        edges.onMessage(m);
      },
    };
  }

  /** This shard's frames of a chunk, in order; of the others only the server ends they show first. */
  protected walk(v: ChunkView): void {
    const me = this.init.shard,
      owner = v.owner,
      server = v.server,
      frame = this.frame,
      pipeline = this.pipeline!;
    for (let i = 0, n = v.count; i < n; i++) {
      if (owner[i] === me) {
        v.frame(i, frame);
        this.frameIndex = frame.index;
        pipeline.push(frame);
      } else if (server[i]! >= 0) this.edges.noteServerKey(server[i]!);
    }
  }

  protected startFile(index: number): Stage[] {
    this.edges.seqBase = index * 2 ** 32;
    return [this.stage];
  }

  protected capped(): Record<string, number> {
    return { ...this.cappedRecords };
  }

  protected finish(): FromShard {
    return { t: 'edges', records: this.edges.records(false), cpu: -1, startCpu: -1 };
  }
}
