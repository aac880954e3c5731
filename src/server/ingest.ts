import type { Db } from '../store/db.js';
import { Inventory, type InventoryLimits } from '../discover/inventory.js';
import { DetectionEngine } from '../detect/engine.js';
import type { Detection } from '../detect/detection.js';
import { latestBaseline, listMutes, saveDetections } from '../store/baseline-store.js';
import { mergeInventorySliced, type CaptureRecord } from '../store/inventory-store.js';
import { countRows } from '../store/read-store.js';
import { addCounts } from '../capture/counts.js';
import { activePolicy } from '../respond/change-control.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import type { PipelineHooks } from '../dissect/pipeline.js';
import type { LiveFeed } from './live.js';
import type { TrafficSeries } from '../discover/zone-traffic.js';
import { addTraffic } from '../store/traffic-store.js';
import { trafficFor } from '../respond/zones.js';

/** How often the followed traffic is written to the store and summarised to the dashboards. */
const FLUSH_MS = 1000;

/** What the run that fed an ingest read, for its capture record (the CLI's FileResult fits). */
export interface IngestResult {
  summary: {
    format: string;
    frames: number;
    error: { reason: string } | null;
    anomalies: Record<string, number>;
  };
  stats: { messages: number; anomalies: Record<string, number> };
  firstTs: number | null;
  lastTs: number | null;
  capped: Record<string, number>;
}

/**
 * Follows a capture for `weir serve`: the inventory grows, the detectors run against the store's baseline,
 * new detections are stored and pushed at once, and every second what changed since the last write is merged
 * into the store as a delta (so other writers' assets and edges stay, and nothing is counted twice). The
 * merge runs in short steps that yield to the event loop, so the server keeps answering while it writes.
 */
export class Ingest {
  readonly hooks: PipelineHooks;
  private readonly inv: Inventory;
  private readonly engine: DetectionEngine | null;
  private packets = 0;
  private messages = 0;
  private detections = 0;
  private lastTs: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly traffic: TrafficSeries;
  /** The merge under way, if any: flushes never overlap. */
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Bounds the merges reached (lists per stored record). */
  private readonly mergeCapped: Record<string, number> = {};

  constructor(
    private readonly db: Db,
    private readonly feed: LiveFeed,
    private readonly source: string,
    limits: InventoryLimits = {},
    /** Told of each detection as it opens, before anything else (the playbooks: the kernel waits for nothing). */
    onDetection?: (d: Detection) => void,
    /** Also told of each new detection and, at the end, of all (live SIEM export). */
    private readonly watch?: {
      onDetection(d: Detection): void;
      finish(all: readonly Detection[]): void;
    },
  ) {
    this.inv = new Inventory(limits);
    const baseline = latestBaseline(db);
    const policy = activePolicy(db);
    const zones = policy ? new CompiledPolicy(policy.policy) : null;
    this.engine =
      baseline === null
        ? null
        : new DetectionEngine(baseline, {
            mutes: listMutes(db),
            inventory: this.inv,
            zoneOf: zones ? (ip) => zones.zoneOf(ip)?.name ?? null : undefined,
            onDetection: (d) => {
              onDetection?.(d);
              this.detections++;
              saveDetections(db, [d], baseline.version);
              this.watch?.onDetection(d);
              feed.publish({
                type: 'detection',
                detection: {
                  id: d.id,
                  type: d.type,
                  severity: d.severity,
                  src: d.src,
                  dst: d.dst,
                  explanation: d.explanation,
                  ts: d.ts,
                },
              });
            },
          });
    const engine = this.engine;
    this.traffic = trafficFor(db);
    const traffic = this.traffic;
    this.hooks = {
      onPacket: (p) => {
        this.packets++;
        this.lastTs = p.ts;
        this.inv.onPacket(p);
        engine?.onPacket(p);
        traffic.onPacket(p);
      },
      onMessage: (m) => {
        this.messages++;
        this.inv.onMessage(m);
        engine?.onMessage(m);
      },
    };
  }

  start(): void {
    this.schedule(FLUSH_MS);
  }

  /** A large delta takes a while to write: wait ten times as long as the last write, so ingest keeps up. */
  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      const t0 = Date.now();
      void this.flush().then(() => {
        if (!this.stopped) this.schedule(Math.max(FLUSH_MS, 10 * (Date.now() - t0)));
      });
    }, ms);
    this.timer.unref();
  }

  /** Merge what changed since the last write into the store and tell the dashboards. */
  flush(captures: CaptureRecord[] = []): Promise<void> {
    this.writing = this.writing
      .then(async () => {
        const delta = this.inv.takeDelta();
        const traffic = this.traffic.take();
        addCounts(this.mergeCapped, await mergeInventorySliced(this.db, delta, captures));
        addTraffic(this.db, traffic);
        this.feed.publish({
          type: 'stats',
          source: this.source,
          packets: this.packets,
          messages: this.messages,
          assets: countRows(this.db, 'assets'),
          edges: countRows(this.db, 'edges'),
          detections: this.detections,
          lastTs: this.lastTs,
          capped: this.capped(),
        });
      })
      .catch((err: Error) => {
        process.stderr.write(`weir: writing the followed inventory failed: ${err.message}\n`);
      });
    return this.writing;
  }

  /** What bounds cut short so far: the inventory's and the merges'. */
  capped(): Record<string, number> {
    return addCounts(addCounts({}, this.inv.capped), this.mergeCapped);
  }

  /** End of the capture: final sweeps (stopped polling), a last write with the capture's record. */
  async finish(error: string | null, result?: IngestResult): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.engine) {
      const all = this.engine.finish();
      saveDetections(this.db, all, latestBaseline(this.db)?.version ?? null);
      this.watch?.finish(all);
    }
    const capped = addCounts(addCounts({}, result?.capped ?? {}), this.inv.capped);
    const record: CaptureRecord = {
      source: this.source,
      format: result?.summary.format ?? null,
      frames: result?.summary.frames ?? this.packets,
      messages: result?.stats.messages ?? this.messages,
      firstTs: result?.firstTs ?? null,
      lastTs: result?.lastTs ?? this.lastTs,
      error,
      anomalies: { ...result?.summary.anomalies, ...result?.stats.anomalies },
      capped,
    };
    await this.flush([record]);
    this.feed.publish({ type: 'ended', source: this.source, error });
  }
}
