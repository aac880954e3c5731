import type { Packet } from '../dissect/packet.js';

export type Direction = 'in' | 'out' | 'within';

export interface TrafficRow {
  bucket: number;
  zone: string;
  direction: Direction;
  packets: number;
  bytes: number;
}

/**
 * Packets and bytes per zone and time bucket, split by direction: into the zone from outside, out of it, and
 * within it. What a plant manager reads as "how busy is each zone, and is anything new leaving it".
 */
export class TrafficSeries {
  private readonly rows = new Map<string, TrafficRow>();
  private readonly zones = new Map<string, string | null>();

  constructor(
    private readonly zoneOf: (ip: string) => string | null,
    private readonly bucketSeconds = 60,
  ) {}

  onPacket(pkt: Packet): void {
    if (pkt.ipVersion === 0) return;
    const a = this.zone(pkt.srcIp),
      b = this.zone(pkt.dstIp);
    if (a === null && b === null) return;
    const bucket = Math.floor(pkt.ts / this.bucketSeconds) * this.bucketSeconds;
    if (a !== null && a === b) {
      this.add(bucket, a, 'within', pkt.wireLen);
      return;
    }
    if (a !== null) this.add(bucket, a, 'out', pkt.wireLen);
    if (b !== null) this.add(bucket, b, 'in', pkt.wireLen);
  }

  private zone(ip: string): string | null {
    let z = this.zones.get(ip);
    if (z === undefined) {
      z = this.zoneOf(ip);
      if (this.zones.size > 100_000) this.zones.clear();
      this.zones.set(ip, z);
    }
    return z;
  }

  private add(bucket: number, zone: string, direction: Direction, bytes: number): void {
    const k = `${bucket}|${zone}|${direction}`;
    const r = this.rows.get(k);
    if (r === undefined) this.rows.set(k, { bucket, zone, direction, packets: 1, bytes });
    else {
      r.packets++;
      r.bytes += bytes;
    }
  }

  /** What was counted since the last take (the counters restart, so repeated takes add up in the store). */
  take(): TrafficRow[] {
    const out = [...this.rows.values()];
    this.rows.clear();
    return out;
  }
}
