// A site's own store with something in it for the manager to aggregate: assets and edges (as the inventory
// merge writes rows), incidents (through the incident store) and audit entries (through the audit log).
import type { Db } from '../../src/store/db.js';
import { appendAudit } from '../../src/store/audit-store.js';
import { saveIncidents } from '../../src/store/incident-store.js';
import type { Incident } from '../../src/detect/incident.js';

export function asset(ip: string, name: string, lastSeen = 1000) {
  return {
    id: ip,
    ips: [ip],
    mac: null,
    macVendor: null,
    hostnames: [name],
    identity: { vendor: 'Acme', product: `${name}-product` },
    identitySources: {},
    role: 'plc',
    roleReasons: ['test'],
    serves: ['modbus'],
    uses: [],
    firstSeen: 1,
    lastSeen,
    packetsSent: 1,
    bytesSent: 1,
    packetsReceived: 1,
    bytesReceived: 1,
  };
}

export function putAsset(db: Db, a: ReturnType<typeof asset>): void {
  db.prepare(
    `INSERT INTO assets (id, mac, mac_vendor, role, vendor, product, firmware, first_seen, last_seen, doc)
     VALUES (?, NULL, NULL, ?, ?, ?, NULL, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, doc = excluded.doc`,
  ).run(
    a.id,
    a.role,
    a.identity.vendor,
    a.identity.product,
    a.firstSeen,
    a.lastSeen,
    JSON.stringify(a),
  );
}

export function putEdge(
  db: Db,
  client: string,
  server: string,
  lastSeen = 1000,
  packets = 10,
): void {
  const id = `${client}>${server}:502/tcp`;
  const doc = {
    id,
    client,
    server,
    transport: 'tcp',
    port: 502,
    protocol: 'modbus',
    packets,
    bytes: packets * 60,
    firstSeen: 1,
    lastSeen,
    functions: [],
    targets: [],
  };
  db.prepare(
    `INSERT INTO edges (id, client, server, transport, port, protocol, packets, bytes, first_seen, last_seen, poll_interval, doc)
     VALUES (?, ?, ?, 'tcp', 502, 'modbus', ?, ?, 1, ?, NULL, ?)
     ON CONFLICT (id) DO UPDATE SET packets = excluded.packets, last_seen = excluded.last_seen, doc = excluded.doc`,
  ).run(id, client, server, packets, packets * 60, lastSeen, JSON.stringify(doc));
}

export function incident(
  id: string,
  title: string,
  status: Incident['status'],
  updatedAt: string,
): Incident {
  return {
    id,
    title,
    severity: 'high',
    status,
    statusBy: null,
    statusAt: null,
    tactics: ['impair-process-control'],
    techniques: ['T0836'],
    assets: [],
    zones: ['control'],
    sources: [],
    targets: [],
    firstSeen: 1_790_000_000,
    lastSeen: 1_790_000_100,
    updatedAt,
    detectionIds: [],
    timeline: [],
    notes: [],
    newSinceStatus: 0,
  };
}

/** `n` assets with an edge each, two incidents (one closed), `audits` audit entries. */
export function seedSite(db: Db, site: string, n: number, audits: number): void {
  const net = site === 'north' || site === 'a' ? 1 : 2;
  for (let i = 0; i < n; i++) {
    putAsset(db, asset(`10.${net}.0.${10 + i}`, `${site}-plc-${i}`));
    putEdge(db, `10.${net}.0.2`, `10.${net}.0.${10 + i}`);
  }
  saveIncidents(
    db,
    [
      incident(`${site}-inc-1`, `Writes to PLCs at ${site}`, 'open', '2026-11-27T10:00:00.000Z'),
      incident(`${site}-inc-2`, `Scan at ${site}`, 'closed', '2026-11-27T10:00:01.000Z'),
    ],
    [],
  );
  for (let i = 0; i < audits; i++)
    appendAudit(db, {
      actor: `${site}-admin`,
      action: 'policy.apply',
      subject: `${site} change ${i}`,
    });
}
