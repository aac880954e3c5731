import type { Db } from '../store/db.js';
import { Inventory } from '../discover/inventory.js';
import { DetectionEngine } from '../detect/engine.js';
import { latestBaseline, listMutes, saveDetections } from '../store/baseline-store.js';
import { loadInventory, saveInventory } from '../store/inventory-store.js';
import { activePolicy } from '../respond/change-control.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import type { PipelineHooks } from '../dissect/pipeline.js';
import type { LiveFeed } from './live.js';
import type { TrafficSeries } from '../assess/traffic.js';
import { addTraffic } from '../store/traffic-store.js';
import { trafficFor } from '../respond/zones.js';

/** How often the followed traffic is written to the store and summarised to the dashboards. */
const FLUSH_MS = 1000;

/**
 * Follows a capture for `weir serve`: the inventory grows, the detectors run against the store's baseline,
 * new detections are stored and pushed at once, and the inventory is written back every second.
 */
export class Ingest {
  readonly hooks: PipelineHooks;
  private readonly inv = new Inventory();
  private readonly engine: DetectionEngine | null;
  private packets = 0;
  private messages = 0;
  private detections = 0;
  private lastTs: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly traffic: TrafficSeries;

  constructor(private readonly db: Db, private readonly feed: LiveFeed, private readonly source: string) {
    this.inv.load(loadInventory(db));
    const baseline = latestBaseline(db);
    const policy = activePolicy(db);
    const zones = policy ? new CompiledPolicy(policy.policy) : null;
    this.engine = baseline === null ? null : new DetectionEngine(baseline, {
      mutes: listMutes(db), inventory: this.inv, zoneOf: zones ? (ip) => zones.zoneOf(ip)?.name ?? null : undefined,
      onDetection: (d) => {
        this.detections++;
        saveDetections(db, [d], baseline.version);
        feed.publish({ type: 'detection', detection: { id: d.id, type: d.type, severity: d.severity, src: d.src, dst: d.dst, explanation: d.explanation, ts: d.ts } });
      },
    });
    const engine = this.engine;
    this.traffic = trafficFor(db);
    const traffic = this.traffic;
    this.hooks = {
      onPacket: (p) => { this.packets++; this.lastTs = p.ts; this.inv.onPacket(p); engine?.onPacket(p); traffic.onPacket(p); },
      onMessage: (m) => { this.messages++; this.inv.onMessage(m); engine?.onMessage(m); },
    };
  }

  start(): void {
    this.schedule(FLUSH_MS);
  }

  /** A large inventory takes a while to write: wait ten times as long as the last write, so ingest keeps up. */
  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      const t0 = Date.now();
      this.flush();
      this.schedule(Math.max(FLUSH_MS, 10 * (Date.now() - t0)));
    }, ms);
    this.timer.unref();
  }

  /** Write what was seen so far and tell the dashboards. */
  flush(): void {
    const snap = this.inv.snapshot();
    saveInventory(this.db, snap);
    addTraffic(this.db, this.traffic.take());
    this.feed.publish({ type: 'stats', source: this.source, packets: this.packets, messages: this.messages, assets: snap.assets.length, edges: snap.edges.length, detections: this.detections, lastTs: this.lastTs });
  }

  /** End of the capture: final sweeps (stopped polling), a last write. */
  finish(error: string | null): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.engine) {
      const all = this.engine.finish();
      saveDetections(this.db, all, latestBaseline(this.db)?.version ?? null);
    }
    this.flush();
    this.feed.publish({ type: 'ended', source: this.source, error });
  }
}
