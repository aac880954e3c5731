import type { Db } from '../store/db.js';
import type { Inventory, InventoryLimits } from '../discover/inventory.js';
import type { DetectionEngine } from '../detect/engine.js';
import type { Detection } from '../detect/detection.js';
import { latestBaseline, saveDetections } from '../store/baseline-store.js';
import { mergeInventorySliced, type CaptureRecord } from '../store/inventory-store.js';
import { countRows } from '../store/read-store.js';
import { addCounts } from '../capture/counts.js';
import type { CompiledPolicy } from '../policy/evaluate.js';
import type { Stages, Stage } from '../dissect/stage.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';
import type { LiveFeed } from './live.js';
import type { TrafficSeries } from '../discover/zone-traffic.js';
import { addTraffic } from '../store/traffic-store.js';
import { fileDetections, storeLookups } from '../respond/incident-book.js';
import { storeStages, type StoreStages } from '../respond/store-stages.js';
import { incidentSummary, type IncidentSummary } from '../detect/incident.js';
import type { CaptureStatus } from '../capture/live.js';

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

export interface IngestOptions {
  limits?: InventoryLimits;
  /** Detection thresholds and fold window (default: the settings defaults). */
  detect?: Settings['detect'];
  /** How often (ms) the followed traffic is written to the store and summarised to the dashboards. */
  flushMs?: number;
  /** More stages, after the inventory, the detectors and the traffic series (they see the same traffic). */
  stages?: Stage[];
  /** Told of each detection as it opens, before anything else (the playbooks: the kernel waits for nothing). */
  first?: (d: Detection) => void;
  /**
   * Also told of each new detection (after it is stored) and, at the end, of all: live SIEM export, and any
   * further consumer of detections, one entry each.
   */
  watchers?: DetectionWatcher[];
}

export interface DetectionWatcher {
  onDetection(d: Detection): void;
  finish?(all: readonly Detection[]): void;
  /** Incidents the detections opened or changed (the SIEM export sends them). */
  onIncidents?(incidents: readonly IncidentSummary[]): void;
}

/**
 * Follows a capture for `weir serve`: the inventory grows, the detectors run against the store's baseline,
 * new detections are stored and pushed at once, and every second what changed since the last write is merged
 * into the store as a delta (so other writers' assets and edges stay, and nothing is counted twice). The
 * merge runs in short steps that yield to the event loop, so the server keeps answering while it writes.
 */
export class Ingest {
  /** What the capture run feeds: counters, inventory, detectors, traffic series, then any extra stages. */
  readonly stages: Stages;
  private readonly inv: Inventory;
  private readonly engine: DetectionEngine | null;
  private readonly zones: CompiledPolicy | null;
  /** Frames and messages seen, the last frame's time (the stage set-up counts them). */
  private readonly seen: StoreStages['seen'];
  private detections = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly traffic: TrafficSeries;
  /** The merge under way, if any: flushes never overlap. */
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly flushMs: number;
  private readonly watchers: DetectionWatcher[];
  /** Bounds the merges reached (lists per stored record). */
  private readonly mergeCapped: Record<string, number> = {};
  /** The live capture's program and latest counters, shown with the stats (none for a file). */
  private capture: CaptureStatus | null = null;

  constructor(
    private readonly db: Db,
    private readonly feed: LiveFeed,
    private readonly source: string,
    opts: IngestOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? DEFAULT_SETTINGS.ingest.flush_ms;
    const watchers = opts.watchers ?? [];
    this.watchers = watchers;
    const set = storeStages(db, {
      limits: opts.limits,
      detect: opts.detect,
      more: opts.stages,
      onDetection: (d) => {
        opts.first?.(d);
        this.detections++;
        saveDetections(db, [d], set.baselineVersion);
        const filed = fileDetections(db, [d], { lookups: storeLookups(db, set.zones) });
        const inc = filed[0];
        for (const w of watchers) {
          w.onDetection(d);
          w.onIncidents?.(filed.map(incidentSummary));
        }
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
            techniques: d.techniques,
            incidentId: inc?.id ?? null,
          },
        });
      },
    });
    this.inv = set.inventory;
    this.engine = set.engine;
    this.zones = set.zones;
    this.traffic = set.traffic;
    this.seen = set.seen;
    this.stages = set.stages;
  }

  /** The capture program and its counters, as the live capture reports them. */
  setCapture(c: CaptureStatus): void {
    this.capture = c;
  }

  start(): void {
    this.schedule(this.flushMs);
  }

  /** A large delta takes a while to write: wait ten times as long as the last write, so ingest keeps up. */
  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      const t0 = Date.now();
      void this.flush().then(() => {
        if (!this.stopped) this.schedule(Math.max(this.flushMs, 10 * (Date.now() - t0)));
      });
    }, ms);
    this.timer.unref();
  }

  /** Merge what changed since the last write into the store and tell the dashboards. */
  flush(captures: CaptureRecord[] = []): Promise<void> {
    this.writing = this.writing
      .then(async () => {
        await this.stages.flush();
        const delta = this.inv.takeDelta();
        const traffic = this.traffic.take();
        addCounts(this.mergeCapped, await mergeInventorySliced(this.db, delta, captures));
        addTraffic(this.db, traffic);
        this.feed.publish({
          type: 'stats',
          source: this.source,
          packets: this.seen.packets,
          messages: this.seen.messages,
          assets: countRows(this.db, 'assets'),
          edges: countRows(this.db, 'edges'),
          detections: this.detections,
          lastTs: this.seen.lastTs,
          capped: this.capped(),
          ...(this.capture !== null ? { capture: this.capture } : {}),
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
      const filed = fileDetections(this.db, all, { lookups: storeLookups(this.db, this.zones) });
      for (const w of this.watchers) {
        w.finish?.(all);
        w.onIncidents?.(filed.map(incidentSummary));
      }
    }
    const capped = addCounts(addCounts({}, result?.capped ?? {}), this.inv.capped);
    const record: CaptureRecord = {
      source: this.source,
      format: result?.summary.format ?? null,
      frames: result?.summary.frames ?? this.seen.packets,
      messages: result?.stats.messages ?? this.seen.messages,
      firstTs: result?.firstTs ?? null,
      lastTs: result?.lastTs ?? this.seen.lastTs,
      error,
      anomalies: { ...result?.summary.anomalies, ...result?.stats.anomalies },
      capped,
    };
    await this.flush([record]);
    this.feed.publish({ type: 'ended', source: this.source, error });
  }
}
