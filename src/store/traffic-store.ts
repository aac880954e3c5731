import type { Db } from './db.js';
import type { TrafficRow } from '../assess/traffic.js';

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
