import type { Db } from './db.js';
import type { Asset, Edge, InventorySnapshot } from '../discover/model.js';

export interface CaptureRecord {
  source: string;
  format: string | null;
  frames: number;
  messages: number;
  firstTs: number | null;
  lastTs: number | null;
  error: string | null;
  anomalies: Record<string, number>;
}

export function loadInventory(db: Db): InventorySnapshot {
  const assets = (db.prepare('SELECT doc FROM assets ORDER BY id').all() as { doc: string }[]).map((r) => JSON.parse(r.doc) as Asset);
  const edges = (db.prepare('SELECT doc FROM edges ORDER BY id').all() as { doc: string }[]).map((r) => JSON.parse(r.doc) as Edge);
  return { assets, edges };
}

/** Replace the stored inventory with `snap` (which already folds in what was loaded) in one transaction. */
export function saveInventory(db: Db, snap: InventorySnapshot, captures: CaptureRecord[] = []): void {
  const insAsset = db.prepare(`INSERT INTO assets (id, mac, mac_vendor, role, vendor, product, firmware, first_seen, last_seen, doc)
    VALUES (@id, @mac, @macVendor, @role, @vendor, @product, @firmware, @firstSeen, @lastSeen, @doc)`);
  const insEdge = db.prepare(`INSERT INTO edges (id, client, server, transport, port, protocol, packets, bytes, first_seen, last_seen, poll_interval, doc)
    VALUES (@id, @client, @server, @transport, @port, @protocol, @packets, @bytes, @firstSeen, @lastSeen, @pollInterval, @doc)`);
  const insCapture = db.prepare(`INSERT INTO captures (source, imported_at, format, frames, messages, first_ts, last_ts, error, anomalies)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    db.exec('DELETE FROM assets; DELETE FROM edges;');
    for (const a of snap.assets) {
      insAsset.run({
        id: a.id, mac: a.mac, macVendor: a.macVendor, role: a.role, vendor: a.identity.vendor ?? null,
        product: a.identity.product ?? null, firmware: a.identity.firmware ?? null,
        firstSeen: a.firstSeen, lastSeen: a.lastSeen, doc: JSON.stringify(a),
      });
    }
    for (const e of snap.edges) {
      insEdge.run({
        id: e.id, client: e.client, server: e.server, transport: e.transport, port: e.port, protocol: e.protocol,
        packets: e.packets, bytes: e.bytes, firstSeen: e.firstSeen, lastSeen: e.lastSeen,
        pollInterval: e.pollInterval, doc: JSON.stringify(e),
      });
    }
    const now = new Date().toISOString();
    for (const c of captures) {
      insCapture.run(c.source, now, c.format, c.frames, c.messages, c.firstTs, c.lastTs, c.error, JSON.stringify(c.anomalies));
    }
  })();
}
