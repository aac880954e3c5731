import os from 'node:os';
import type { Db } from '../store/db.js';
import type { Detection } from '../detect/detection.js';
import { enqueueEvents, pruneDelivered } from '../store/export-store.js';
import type { ExportEvent } from './event.js';
import { Delivery, type DeliveryOptions } from './delivery.js';
import type { Destination } from './destination.js';
import { DetectionSource, enqueueStoredDetections } from './detection-source.js';
import type { UpdatePolicy } from './detection-updates.js';
import { IncidentSource, type IncidentLike } from './incident-event.js';
import { ecs } from './formats/ecs.js';
import type { ExportFormat, Observer } from './formats/format.js';
import { syslogMessage } from './syslog.js';
import { StreamTransport } from './transports/stream.js';
import { UdpTransport } from './transports/udp.js';
import { JsonlFileTransport, type RotationLimits } from './transports/jsonl-file.js';
import type { Transport } from './transports/transport.js';

export interface SinkSpec {
  destination: Destination;
  /** Ignored for JSON-lines files, which always hold ECS documents. */
  format: ExportFormat;
  /** CA certificate file (PEM) that must have signed a TLS receiver's certificate. */
  ca?: string;
  rotation?: RotationLimits;
}

export interface ExporterOptions extends DeliveryOptions {
  hostname?: string;
  policy?: UpdatePolicy;
}

const VERSION = '0.1.0';
const PRUNE_AFTER_SECONDS = 7 * 86_400;

function transportFor(s: SinkSpec): Transport {
  const d = s.destination;
  switch (d.transport) {
    case 'jsonl':
      return new JsonlFileTransport(d.path, s.rotation);
    case 'udp':
      if (s.ca !== undefined) throw new Error('--ca applies to syslog+tls:// destinations only');
      return new UdpTransport(d.host, d.port, d.label);
    case 'tcp':
    case 'tls':
      return new StreamTransport(d.transport, d.host, d.port, d.label, s.ca);
  }
}

/** The store's name for a destination and format: what its cursor is kept under. */
export function sinkName(s: SinkSpec): string {
  return s.destination.transport === 'jsonl'
    ? `${s.destination.label} ecs`
    : `${s.destination.label} ${s.format.name}`;
}

/**
 * Export wired together: detections (and, through `offer`, any other source's events) go into the store's
 * queue, and one Delivery per destination sends the queue on, each at its own pace.
 */
export class Exporter {
  readonly detections: DetectionSource;
  readonly incidents: IncidentSource;
  readonly deliveries: Delivery[];

  constructor(
    private readonly db: Db,
    sinks: readonly SinkSpec[],
    o: ExporterOptions = {},
  ) {
    const observer: Observer = {
      hostname: o.hostname ?? os.hostname(),
      vendor: 'Weir',
      product: 'Weir',
      version: VERSION,
    };
    this.detections = new DetectionSource(db, o.policy);
    this.incidents = new IncidentSource(db, o.policy);
    const names = new Set<string>();
    this.deliveries = sinks.map((s) => {
      const name = sinkName(s);
      if (names.has(name)) throw new Error(`export destination given twice: ${name}`);
      names.add(name);
      const transport = transportFor(s);
      const render =
        s.destination.transport === 'jsonl'
          ? (e: ExportEvent) => ecs.render(e, observer)
          : (e: ExportEvent) =>
              syslogMessage(e, s.format.render(e, observer), {
                facility: (s.destination as { facility: number }).facility,
                hostname: observer.hostname,
                appName: 'weir',
              });
      return new Delivery(db, name, transport, render, o);
    });
  }

  start(): void {
    // Events every destination has had for a week go (a destination added later starts from what is left).
    pruneDelivered(this.db, PRUNE_AFTER_SECONDS);
    for (const d of this.deliveries) d.start();
  }

  /** Queue what these (new or grown) detections call for, and send it. */
  offerDetections(ds: readonly Detection[]): number {
    const n = this.detections.enqueue(ds);
    if (n > 0) this.wake();
    return n;
  }

  /** Queue what these (new or changed) incidents call for, and send it. */
  offerIncidents(incs: readonly IncidentLike[]): number {
    const n = this.incidents.enqueue(incs);
    if (n > 0) this.wake();
    return n;
  }

  /** Queue events made elsewhere; an event already queued (same id) is ignored. */
  offer(events: readonly ExportEvent[]): number {
    const n = enqueueEvents(
      this.db,
      events.map((e) => ({ id: e.id, kind: e.kind, doc: JSON.stringify(e) })),
    );
    if (n > 0) this.wake();
    return n;
  }

  /** Queue what the store's detections call for (written by other processes). */
  scanStore(): number {
    const n = enqueueStoredDetections(this.db, this.detections);
    if (n > 0) this.wake();
    return n;
  }

  private wake(): void {
    for (const d of this.deliveries) d.wake();
  }

  /** Wait for every destination to deliver the queue; returns what is still pending per destination. */
  async drain(
    timeoutMs: number,
  ): Promise<Array<{ name: string; pending: number; error: string | null }>> {
    const left = await Promise.all(this.deliveries.map((d) => d.drain(timeoutMs)));
    return this.deliveries.map((d, i) => ({
      name: d.name,
      pending: left[i]!,
      error: d.fatal?.message ?? d.lastError,
    }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.deliveries.map((d) => d.stop()));
  }
}

/**
 * Follow detections as a detection run makes them: a new detection is queued at once, and the ones seen so
 * far are looked at again every second (their counts grow in place), so updates go out while the run lasts.
 */
export class LiveDetections {
  private readonly seen: Detection[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly exporter: Exporter) {
    this.timer = setInterval(() => this.recheck(), 1000);
    this.timer.unref();
  }

  onDetection(d: Detection): void {
    this.seen.push(d);
    this.exporter.offerDetections([d]);
  }

  recheck(): void {
    if (this.seen.length > 0) this.exporter.offerDetections(this.seen);
  }

  /** Incidents opened or changed by the detections (filed by the incidents module). */
  onIncidents(incs: readonly IncidentLike[]): void {
    if (incs.length > 0) this.exporter.offerIncidents(incs);
  }

  /** The run ended: the final state of every detection (the sweeps at the end may add some). */
  finish(all: readonly Detection[]): void {
    clearInterval(this.timer);
    this.exporter.offerDetections(all);
  }
}
