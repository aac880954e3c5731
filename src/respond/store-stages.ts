/**
 * The stages a capture runs through on a host with a store — serve's ingest and a fleet site's pipeline:
 * counters, the inventory, the detectors against the store's baseline (zones and decoys from its active policy,
 * its mutes), then the traffic series. One set-up, so the dashboard host and the site never drift apart.
 */
import type { Db } from '../store/db.js';
import { Inventory, type InventoryLimits } from '../discover/inventory.js';
import type { TrafficSeries } from '../discover/zone-traffic.js';
import { DetectionEngine } from '../detect/engine.js';
import type { Detection } from '../detect/detection.js';
import { latestBaseline, listMutes } from '../store/baseline-store.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { decoyAddresses } from '../policy/decoy-model.js';
import { Stages, type Stage } from '../dissect/stage.js';
import type { Settings } from '../settings/model.js';
import { activePolicy } from './change-control.js';
import { trafficFor } from './zones.js';

export interface StoreStages {
  readonly stages: Stages;
  readonly inventory: Inventory;
  /** Null without a baseline: the host inventories (and enforces), nothing more. */
  readonly engine: DetectionEngine | null;
  /** The active policy's zones (null: none applied). */
  readonly zones: CompiledPolicy | null;
  readonly traffic: TrafficSeries;
  /** The baseline the detections are stored against. */
  readonly baselineVersion: number | null;
  /** Frames and messages seen so far, and the last frame's time. */
  readonly seen: { packets: number; messages: number; lastTs: number | null };
}

export interface StoreStagesOptions {
  limits?: InventoryLimits;
  /** Detection thresholds and fold window (default: the settings defaults). */
  detect?: Settings['detect'];
  /** Each detection as it opens. */
  onDetection: (d: Detection) => void;
  /** More stages, after the traffic series (they see the same traffic). */
  more?: Stage[];
}

export function storeStages(db: Db, o: StoreStagesOptions): StoreStages {
  const inventory = new Inventory(o.limits);
  const baseline = latestBaseline(db);
  const policy = activePolicy(db);
  const zones = policy ? new CompiledPolicy(policy.policy) : null;
  const engine =
    baseline === null
      ? null
      : new DetectionEngine(baseline, {
          settings: o.detect,
          mutes: listMutes(db),
          inventory,
          zoneOf: zones ? (ip) => zones.zoneOf(ip)?.name ?? null : undefined,
          decoys: decoyAddresses(policy?.policy.decoys),
          onDetection: o.onDetection,
        });
  const traffic = trafficFor(db);
  const seen = { packets: 0, messages: 0, lastTs: null as number | null };
  const counter: Stage = {
    onPacket: (p) => {
      seen.packets++;
      seen.lastTs = p.ts;
    },
    onMessage: () => {
      seen.messages++;
    },
  };
  // The engine shares the inventory's edge lookup, so it comes after it.
  const stages: Stage[] = [counter, inventory];
  if (engine) stages.push(engine);
  stages.push(traffic, ...(o.more ?? []));
  return {
    stages: new Stages(stages),
    inventory,
    engine,
    zones,
    traffic,
    baselineVersion: baseline?.version ?? null,
    seen,
  };
}
