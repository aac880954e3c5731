/**
 * What a fleet site does with the traffic it captures, in the node's own process: the inventory grows, the
 * detectors run against the site store's baseline, each detection goes first to the playbooks (the kernel
 * waits for nothing), then to the outbox for the manager, then into the site's store (detections, incidents)
 * and to the watchers (a site publisher hooks here). Like serve's Ingest, without a dashboard feed.
 *
 * The site's store can be held locked by another process (a backup, a maintenance tool): a write that finds
 * it busy never stops capture, playbooks or the outbox; the detections wait in memory, counted, and are
 * written at the next flush that finds the store free.
 */
import type { Db } from '../store/db.js';
import type { Inventory } from '../discover/inventory.js';
import type { DetectionEngine } from '../detect/engine.js';
import { saveDetections } from '../store/baseline-store.js';
import type { CompiledPolicy } from '../policy/evaluate.js';
import type { Stages } from '../dissect/stage.js';
import type { TrafficSeries } from '../discover/zone-traffic.js';
import { storeStages, type StoreStages } from '../respond/store-stages.js';
import type { InventorySnapshot } from '../discover/model.js';
import type { Detection } from '../detect/detection.js';
import { incidentSummary, type IncidentSummary } from '../detect/incident.js';
import { mergeInventorySliced, type CaptureRecord } from '../store/inventory-store.js';
import { addTraffic } from '../store/traffic-store.js';
import { addCounts } from '../capture/counts.js';
import { fileDetections, storeLookups } from '../respond/incident-book.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';
import type { Outbox } from './outbox.js';
import { storeBusy } from './apply-state.js';

/** A consumer of what the site saw (the site publisher to the manager, tests): each hook optional. */
export interface SiteWatcher {
  /** A detection as it opens (after the playbooks and the outbox). */
  onDetection?(d: Detection): void;
  /** Incidents the detections opened or changed, once filed in the site's store. */
  onIncidents?(incidents: readonly IncidentSummary[]): void;
  /** What changed in the inventory since the last flush, once merged into the site's store. */
  onInventory?(delta: InventorySnapshot): void;
}

export interface SitePipelineOptions {
  /** Detections go to the manager through it (stored first, delivered exactly once). */
  outbox: Outbox;
  settings?: Pick<Settings, 'detect' | 'inventory' | 'ingest'>;
  /** Told of each detection first (the playbooks). */
  first?: (d: Detection) => void;
  watchers?: SiteWatcher[];
  log?: (m: string) => void;
}

export class SitePipeline {
  /** What the capture feeds: counters, inventory, detectors, traffic series. */
  readonly stages: Stages;
  private readonly inv: Inventory;
  private readonly engine: DetectionEngine | null;
  private readonly zones: CompiledPolicy | null;
  private readonly traffic: TrafficSeries;
  private readonly baselineVersion: number | null;
  private readonly watchers: SiteWatcher[];
  private readonly log: (m: string) => void;
  private readonly flushMs: number;
  /** Detections not in the store yet (it was locked when they came). */
  private readonly unsaved: Detection[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Frames and messages seen, the last frame's time (the stage set-up counts them). */
  private readonly seen: StoreStages['seen'];
  detections = 0;
  /** Store writes that found it locked, since start. */
  busy = 0;
  private locked = false;

  constructor(
    /** The site's store: baseline, active policy, mutes; detections, incidents and inventory are written here. */
    private readonly db: Db,
    private readonly o: SitePipelineOptions,
  ) {
    const settings = o.settings ?? DEFAULT_SETTINGS;
    this.log = o.log ?? ((m) => process.stderr.write(`weir node: ${m}\n`));
    this.watchers = o.watchers ?? [];
    this.flushMs = settings.ingest.flush_ms;
    const set = storeStages(db, {
      limits: {
        maxAssets: settings.inventory.max_assets,
        maxEdges: settings.inventory.max_edges,
      },
      detect: settings.detect,
      onDetection: (d) => this.onDetection(d),
    });
    this.inv = set.inventory;
    this.engine = set.engine;
    this.zones = set.zones;
    this.traffic = set.traffic;
    this.baselineVersion = set.baselineVersion;
    this.seen = set.seen;
    this.stages = set.stages;
  }

  get packets(): number {
    return this.seen.packets;
  }

  get messages(): number {
    return this.seen.messages;
  }

  get lastTs(): number | null {
    return this.seen.lastTs;
  }

  /** Detection runs only against a baseline: without one the site inventories and enforces, nothing more. */
  get detecting(): boolean {
    return this.engine !== null;
  }

  private onDetection(d: Detection): void {
    this.detections++;
    this.o.first?.(d);
    this.o.outbox.add('detection', d);
    this.unsaved.push(d);
    // While the store is locked only the flush tries again: each try waits out the busy timeout.
    if (!this.locked) this.store();
    for (const w of this.watchers) w.onDetection?.(d);
  }

  /** File what waits into the site's store; a locked store keeps it waiting (counted, said once per episode). */
  private store(): void {
    if (this.unsaved.length === 0) return;
    const ds = this.unsaved.splice(0);
    let filed;
    try {
      saveDetections(this.db, ds, this.baselineVersion);
      filed = fileDetections(this.db, ds, { lookups: storeLookups(this.db, this.zones) });
    } catch (err) {
      if (!storeBusy(err)) throw err;
      this.busy++;
      if (!this.locked)
        this.log(
          `the site store is locked by another process: ${ds.length} detection(s) wait to be stored (they already went to the playbooks and the outbox)`,
        );
      this.unsaved.unshift(...ds);
      this.locked = true;
      return;
    }
    if (this.locked) this.log(`the site store answers again: the waiting detections are stored`);
    this.locked = false;
    const incidents = filed.map(incidentSummary);
    for (const w of this.watchers) w.onIncidents?.(incidents);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Write what changed since the last write into the site's store and tell the watchers. */
  flush(captures: CaptureRecord[] = []): Promise<void> {
    this.writing = this.writing
      .then(async () => {
        await this.stages.flush();
        this.store();
        const delta = this.inv.takeDelta();
        try {
          await mergeInventorySliced(this.db, delta, captures);
          addTraffic(this.db, this.traffic.take());
        } catch (err) {
          if (!storeBusy(err)) throw err;
          // The inventory keeps growing in memory; what changed goes in with a later delta (assets and edges
          // are merged by key, so a delta taken now and lost costs only the counts of this interval).
          this.busy++;
          this.log(`the site store is locked: this interval's inventory is not written`);
          return;
        }
        for (const w of this.watchers) w.onInventory?.(delta);
      })
      .catch((err: Error) => {
        this.log(`writing the site store failed: ${err.message}`);
      });
    return this.writing;
  }

  /** End of the capture: the detectors' final sweeps, the last write with the capture's record. */
  async finish(source: string, error: string | null): Promise<readonly Detection[]> {
    if (this.stopped) return [];
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const all = this.engine?.finish() ?? [];
    // Folded counts of the detections already stored (saveDetections updates them by id).
    if (all.length > 0) {
      this.unsaved.push(...all.filter((d) => !this.unsaved.some((u) => u.id === d.id)));
    }
    const capped = addCounts({}, this.inv.capped);
    await this.flush([
      {
        source,
        format: null,
        frames: this.seen.packets,
        messages: this.seen.messages,
        firstTs: null,
        lastTs: this.seen.lastTs,
        error,
        anomalies: {},
        capped,
      },
    ]);
    return all;
  }
}
