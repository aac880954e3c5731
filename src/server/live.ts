import { EventEmitter } from 'node:events';
import type { CaptureStatus } from '../capture/live.js';

/** Events the dashboard receives while a capture is being followed. */
export type LiveEvent =
  | {
      type: 'stats';
      source: string;
      packets: number;
      messages: number;
      assets: number;
      edges: number;
      detections: number;
      lastTs: number | null;
      /** What bounds cut short so far (assets and edges not tracked, …), by kind. */
      capped: Record<string, number>;
      /** A live capture's program and its counters (received, dropped by the kernel and the interface). */
      capture?: CaptureStatus;
    }
  | {
      type: 'detection';
      detection: {
        id: string;
        type: string;
        severity: string;
        src: string;
        dst: string;
        explanation: string;
        ts: number;
        /** ATT&CK for ICS technique ids. */
        techniques?: string[];
        /** The incident it was filed into. */
        incidentId?: string | null;
      };
    }
  | {
      /** A pre-approved playbook acted, simulated, or was refused by a guard rail (the notice other parts pick up). */
      type: 'playbook';
      action: {
        id: string;
        zone: string;
        playbook: string;
        mode: string;
        kind: string;
        target: string;
        status: string;
        reason: string;
        detectionId: string;
        detectionType: string;
      };
    }
  | { type: 'ended'; source: string; error: string | null };

/** Fan-out of live events to every connected dashboard; the last stats are replayed to newcomers. */
export class LiveFeed {
  private readonly bus = new EventEmitter();
  last: LiveEvent | null = null;

  constructor() {
    this.bus.setMaxListeners(1000);
  }

  publish(e: LiveEvent): void {
    if (e.type !== 'detection' && e.type !== 'playbook') this.last = e;
    this.bus.emit('event', e);
  }

  subscribe(fn: (e: LiveEvent) => void): () => void {
    this.bus.on('event', fn);
    return () => this.bus.off('event', fn);
  }
}
