import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import type { Asset, Edge, InventorySnapshot } from '../discover/model.js';
import { mergeAsset, mergeEdge, type Capped } from '../discover/merge.js';
import { inferRoles } from '../discover/roles.js';
import { IDENTITY_PROTOCOLS } from '../discover/services.js';

export interface CaptureRecord {
  source: string;
  format: string | null;
  frames: number;
  messages: number;
  firstTs: number | null;
  lastTs: number | null;
  error: string | null;
  anomalies: Record<string, number>;
  /** What a bound cut short while reading it (anomaly kinds, TCP state, assets and edges not tracked, …). */
  capped: Capped;
}

/** Rows merged per write transaction: short transactions let a concurrent writer (serve, another discover) in. */
const ROWS_PER_STEP = 500;
/** Edges per side an asset's role is inferred from: a server of a hundred thousand flood clients stays cheap. */
const ROLE_EDGES = 1000;

export function loadInventory(db: Db): InventorySnapshot {
  const assets = (db.prepare('SELECT doc FROM assets ORDER BY id').all() as { doc: string }[]).map(
    (r) => JSON.parse(r.doc) as Asset,
  );
  const edges = (db.prepare('SELECT doc FROM edges ORDER BY id').all() as { doc: string }[]).map(
    (r) => JSON.parse(r.doc) as Edge,
  );
  return { assets, edges };
}

/** What a merge takes: the changed assets, and the changed edges as a list or as records built when pulled. */
export interface InventoryDelta {
  assets: Asset[];
  edges: Iterable<Edge>;
}

/**
 * Merges an inventory delta (what one capture, or one second of a live capture, showed) into the store,
 * without erasing what other writers stored: each asset and edge is upserted and merged with its stored
 * record (counts add up, first seen is the earliest, last seen the latest, lists and ranges are united),
 * then the roles of every asset it touched are inferred again from the merged facts. Runs in steps of a
 * few hundred rows, each its own write transaction; the capture records are written by the last step.
 */
export class InventoryMerge {
  /** Bounds the merged records hit (lists per asset, functions and ranges per edge). */
  readonly capped: Capped = {};
  private readonly touched = new Set<string>();
  private touchedList: string[] | null = null;
  private ai = 0;
  private ri = 0;
  private done = false;
  private readonly q;
  private readonly sides = new Map<string, Database.Statement<unknown[]>>();
  /** The delta's edges, pulled a step at a time (a streamed delta builds each record as it is pulled). */
  private readonly edges: Iterator<Edge>;
  private edgesDone = false;

  constructor(
    private readonly db: Db,
    private readonly delta: InventoryDelta,
    private readonly captures: CaptureRecord[] = [],
  ) {
    this.edges = delta.edges[Symbol.iterator]();
    this.q = {
      asset: db.prepare('SELECT doc FROM assets WHERE id = ?'),
      // The IP asset of a MAC: not a MAC-only record (id = mac) nor a link-local twin.
      assetByMac: db.prepare(
        "SELECT doc FROM assets WHERE mac = ? AND id <> ? AND id <> mac AND id NOT LIKE 'fe80:%' ORDER BY id LIMIT 1",
      ),
      deleteAsset: db.prepare('DELETE FROM assets WHERE id = ?'),
      putAsset:
        db.prepare(`INSERT INTO assets (id, mac, mac_vendor, role, vendor, product, firmware, first_seen, last_seen, doc)
        VALUES (@id, @mac, @macVendor, @role, @vendor, @product, @firmware, @firstSeen, @lastSeen, @doc)
        ON CONFLICT(id) DO UPDATE SET mac = excluded.mac, mac_vendor = excluded.mac_vendor, role = excluded.role, vendor = excluded.vendor,
          product = excluded.product, firmware = excluded.firmware, first_seen = excluded.first_seen, last_seen = excluded.last_seen, doc = excluded.doc`),
      edge: db.prepare('SELECT doc FROM edges WHERE id = ?'),
      putEdge:
        db.prepare(`INSERT INTO edges (id, client, server, transport, port, protocol, packets, bytes, first_seen, last_seen, poll_interval, doc)
        VALUES (@id, @client, @server, @transport, @port, @protocol, @packets, @bytes, @firstSeen, @lastSeen, @pollInterval, @doc)
        ON CONFLICT(id) DO UPDATE SET protocol = excluded.protocol, packets = excluded.packets, bytes = excluded.bytes,
          first_seen = excluded.first_seen, last_seen = excluded.last_seen, poll_interval = excluded.poll_interval, doc = excluded.doc`),
      capture:
        db.prepare(`INSERT INTO captures (source, imported_at, format, frames, messages, first_ts, last_ts, error, anomalies, capped)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    };
  }

  /** Merge up to `rows` more records in one write transaction; true once everything is merged. */
  step(rows = ROWS_PER_STEP): boolean {
    if (this.done) return true;
    this.db
      .transaction(() => {
        let n = 0;
        const { assets } = this.delta;
        for (; n < rows && this.ai < assets.length; n++) this.mergeAssetRow(assets[this.ai++]!);
        for (; n < rows && !this.edgesDone; n++) {
          const r = this.edges.next();
          if (r.done) this.edgesDone = true;
          else this.mergeEdgeRow(r.value);
        }
        if (n < rows) {
          // Roles only once every edge is in: they depend on the asset's merged edges.
          const ids = (this.touchedList ??= [...this.touched]);
          const batch = ids.slice(this.ri, this.ri + Math.max(1, Math.floor((rows - n) / 4)));
          this.ri += batch.length;
          this.inferRolesOf(batch);
          if (this.ri >= ids.length) {
            const now = new Date().toISOString();
            // Bounds the merge reached are reported with the (last) capture that brought them.
            const last = this.captures.at(-1);
            if (last !== undefined)
              for (const [k, v] of Object.entries(this.capped))
                last.capped[k] = (last.capped[k] ?? 0) + v;
            for (const c of this.captures) {
              this.q.capture.run(
                c.source,
                now,
                c.format,
                c.frames,
                c.messages,
                c.firstTs,
                c.lastTs,
                c.error,
                JSON.stringify(c.anomalies),
                JSON.stringify(c.capped),
              );
            }
            this.done = true;
          }
        }
      })
      .immediate();
    return this.done;
  }

  private get(stmt: 'asset' | 'edge', id: string): Asset | Edge | null {
    const r = this.q[stmt].get(id) as { doc: string } | undefined;
    return r ? (JSON.parse(r.doc) as Asset | Edge) : null;
  }

  private mergeAssetRow(d: Asset): void {
    let into = this.get('asset', d.id) as Asset | null;
    // A device first known only by its MAC (or a link-local address) joins the IP asset with that MAC.
    if (d.mac !== null && (d.ips.length === 0 || d.id.startsWith('fe80:'))) {
      const r = this.q.assetByMac.get(d.mac, d.id) as { doc: string } | undefined;
      if (r !== undefined) {
        const host = JSON.parse(r.doc) as Asset;
        if (into !== null) {
          mergeAsset(host, into, this.capped);
          this.q.deleteAsset.run(d.id);
        }
        into = host;
      }
    } else if (d.ips.length > 0) {
      for (const other of [d.mac, ...d.ips]) {
        if (other === null || other === d.id) continue;
        const stray = this.get('asset', other) as Asset | null;
        if (stray === null) continue;
        into = into === null ? stray : mergeAsset(into, stray, this.capped);
        if (stray.id !== d.id) this.q.deleteAsset.run(stray.id);
        into.id = d.id;
      }
    }
    const a = into === null ? d : mergeAsset(into, d, this.capped);
    this.writeAsset(a);
    this.touched.add(a.id);
  }

  private writeAsset(a: Asset): void {
    this.q.putAsset.run({
      id: a.id,
      mac: a.mac,
      macVendor: a.macVendor,
      role: a.role,
      vendor: a.identity.vendor ?? null,
      product: a.identity.product ?? null,
      firmware: a.identity.firmware ?? null,
      firstSeen: a.firstSeen,
      lastSeen: a.lastSeen,
      doc: JSON.stringify(a),
    });
  }

  private mergeEdgeRow(d: Edge): void {
    const into = this.get('edge', d.id) as Edge | null;
    const e = into === null ? d : mergeEdge(into, d, this.capped);
    this.q.putEdge.run({
      id: e.id,
      client: e.client,
      server: e.server,
      transport: e.transport,
      port: e.port,
      protocol: e.protocol,
      packets: e.packets,
      bytes: e.bytes,
      firstSeen: e.firstSeen,
      lastSeen: e.lastSeen,
      pollInterval: e.pollInterval,
      doc: JSON.stringify(e),
    });
    this.touched.add(e.client);
    this.touched.add(e.server);
  }

  /** Serves, uses and role of each asset, from its stored (merged) edges. */
  private inferRolesOf(ids: string[]): void {
    for (const id of ids) {
      const a = this.get('asset', id) as Asset | null;
      if (a === null || a.ips.length === 0) continue;
      const side = (col: 'client' | 'server'): Edge[] =>
        (this.sideQuery(col, a.ips.length).all(...a.ips) as Array<{ doc: string }>).map(
          (r) => JSON.parse(r.doc) as Edge,
        );
      const edges = [...side('client'), ...side('server')];
      for (const e of edges) {
        for (const p of e.protocols) {
          if (IDENTITY_PROTOCOLS.has(p)) continue;
          if (a.ips.includes(e.server) && !a.serves.includes(p)) a.serves.push(p);
          if (a.ips.includes(e.client) && !a.uses.includes(p)) a.uses.push(p);
        }
      }
      inferRoles([a], edges);
      this.writeAsset(a);
    }
  }

  private sideQuery(col: 'client' | 'server', n: number): Database.Statement<unknown[]> {
    const k = `${col}${n}`;
    let q = this.sides.get(k);
    if (q === undefined) {
      q = this.db.prepare(
        `SELECT doc FROM edges WHERE ${col} IN (${new Array(n).fill('?').join(',')}) LIMIT ${ROLE_EDGES}`,
      );
      this.sides.set(k, q);
    }
    return q;
  }
}

/** The stored (merged) records of the assets and edges a delta named, in its order (for showing a run's result). */
export function storedInventoryOf(
  db: Db,
  delta: { assets: Asset[]; edges: Iterable<{ id: string }> },
): InventorySnapshot {
  return { assets: storedAssetsOf(db, delta.assets), edges: [...storedEdgesOf(db, delta.edges)] };
}

/** The stored records of these assets, in their order, each once. */
export function storedAssetsOf(db: Db, named: Asset[]): Asset[] {
  const asset = db.prepare('SELECT doc FROM assets WHERE id = ?');
  const assets: Asset[] = [];
  const seen = new Set<string>();
  for (const a of named) {
    const r = asset.get(a.id) as { doc: string } | undefined;
    if (r !== undefined && !seen.has(a.id)) {
      seen.add(a.id);
      assets.push(JSON.parse(r.doc) as Asset);
    }
  }
  return assets;
}

/** The stored records of these edges, in their order, each read when it is taken. */
export function* storedEdgesOf(db: Db, named: Iterable<{ id: string }>): Generator<Edge> {
  const edge = db.prepare('SELECT doc FROM edges WHERE id = ?');
  for (const e of named) {
    const r = edge.get(e.id) as { doc: string } | undefined;
    if (r !== undefined) yield JSON.parse(r.doc) as Edge;
  }
}

/** Merge an inventory delta and its capture records into the store (see InventoryMerge), all at once. */
export function mergeInventory(
  db: Db,
  delta: InventoryDelta,
  captures: CaptureRecord[] = [],
): Capped {
  const m = new InventoryMerge(db, delta, captures);
  while (!m.step());
  return m.capped;
}

/** The same, yielding to the event loop between steps, so a server stays responsive while it writes. */
export async function mergeInventorySliced(
  db: Db,
  delta: InventoryDelta,
  captures: CaptureRecord[] = [],
): Promise<Capped> {
  const m = new InventoryMerge(db, delta, captures);
  while (!m.step()) await new Promise<void>((r) => setImmediate(r));
  return m.capped;
}
