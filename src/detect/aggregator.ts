import { createHash } from 'node:crypto';
import type { Detection, Finding } from './detection.js';

/** Frames kept as evidence per detection: enough to find the traffic in the capture, not a copy of it. */
const MAX_EVIDENCE_FRAMES = 10;

/**
 * Folds repeated findings — same type, same source and destination, same detail — within a window into one
 * detection with a count, so an alert storm reads as one line with a number.
 */
export class Aggregator {
  private readonly open = new Map<string, Detection>();
  private readonly closed: Detection[] = [];

  constructor(private readonly windowSeconds: number, private readonly zoneOf: (ip: string) => string | null = () => null) {}

  add(f: Finding): Detection | null {
    const key = `${f.type}|${f.src}|${f.dst}|${f.detail}`;
    const d = this.open.get(key);
    if (d !== undefined && f.ts - d.ts <= this.windowSeconds) {
      d.count++;
      d.lastTs = f.ts;
      if (d.evidence.frames.length < MAX_EVIDENCE_FRAMES) d.evidence.frames.push(f.frame);
      return null;
    }
    if (d !== undefined) { this.closed.push(d); }
    const det: Detection = {
      id: createHash('sha256').update(`${key}|${f.ts}`).digest('hex').slice(0, 16),
      type: f.type, severity: f.severity, ts: f.ts, lastTs: f.ts, count: 1, src: f.src, dst: f.dst,
      protocol: f.protocol, detail: f.detail, zone: this.zoneOf(f.dst) ?? this.zoneOf(f.src),
      evidence: { frames: [f.frame], fields: f.fields }, explanation: f.explanation, suggestedResponse: f.response,
    };
    this.open.set(key, det);
    return det;
  }

  /** Every detection so far, in time order. */
  all(): Detection[] {
    return [...this.closed, ...this.open.values()].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1));
  }
}
