import type { Db } from './db.js';
import type { Direction, TrafficRow } from '../discover/zone-traffic.js';

/** Add counted traffic to the stored series (buckets seen again are summed). */
export function addTraffic(db: Db, rows: TrafficRow[]): void {
  const up =
    db.prepare(`INSERT INTO traffic (bucket, zone, direction, packets, bytes) VALUES (@bucket, @zone, @direction, @packets, @bytes)
    ON CONFLICT(bucket, zone, direction) DO UPDATE SET packets = packets + excluded.packets, bytes = bytes + excluded.bytes`);
  db.transaction(() => {
    for (const r of rows) up.run(r);
  })();
}

/** The series, oldest first, optionally for one zone; at most `limit` rows (the newest). */
export function trafficSeries(db: Db, zone: string | undefined, limit: number): TrafficRow[] {
  const rows = (
    zone
      ? db
          .prepare(
            'SELECT bucket, zone, direction, packets, bytes FROM traffic WHERE zone = ? ORDER BY bucket DESC LIMIT ?',
          )
          .all(zone, limit)
      : db
          .prepare(
            'SELECT bucket, zone, direction, packets, bytes FROM traffic ORDER BY bucket DESC LIMIT ?',
          )
          .all(limit)
  ) as TrafficRow[];
  return rows.reverse();
}

/** The series as columns for a chart: one time axis, and per zone and direction the packets per bucket (0 where none). */
export interface TrafficColumns {
  buckets: number[];
  zones: Record<string, Record<Direction, number[]>>;
}

export function trafficColumns(db: Db, zone: string | undefined, limit: number): TrafficColumns {
  const rows = trafficSeries(db, zone, limit);
  const buckets = [...new Set(rows.map((r) => r.bucket))].sort((a, b) => a - b);
  const at = new Map(buckets.map((b, i) => [b, i]));
  const zones: TrafficColumns['zones'] = {};
  for (const r of rows) {
    const z = (zones[r.zone] ??= {
      in: new Array<number>(buckets.length).fill(0),
      out: new Array<number>(buckets.length).fill(0),
      within: new Array<number>(buckets.length).fill(0),
    });
    z[r.direction][at.get(r.bucket)!] = r.packets;
  }
  return { buckets, zones };
}
