// Two sites on one address plan for the fleet pages' tests: 10.1.0.50 is a Siemens S7-300 (written to by an
// engineering station, with one open detection, in zone `control` of north's policy) at north and a Rockwell
// 1756-ENBT at south (no policy sent), so a mix-up of sites shows as the wrong advisory, path, detection or zone.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import type { Db } from '../../src/store/db.js';
import { asset, putAsset, putEdge, seedSite } from './site-store-kit.js';
import { carry } from './carry-kit.js';
import { setPolicy, SITE_POLICY } from './site-policy-kit.js';

const S7 = { vendor: 'Siemens', product: 'CPU 315-2 PN/DP', firmware: 'V3.2.10' };
const ENBT = { vendor: 'Rockwell Automation', product: '1756-ENBT', firmware: '6.1' };

/** The twin address with a site's own device, and (north only) an engineering station writing to it. */
function twin(db: Db, site: 'north' | 'south'): void {
  putAsset(db, {
    ...asset('10.1.0.50', `${site}-twin`),
    identity: site === 'north' ? S7 : ENBT,
  } as ReturnType<typeof asset>);
  if (site !== 'north') return;
  putEdge(db, '10.1.0.2', '10.1.0.50', 1000, 40);
  const id = '10.1.0.2>10.1.0.50:502/tcp';
  const doc = JSON.parse(
    (db.prepare('SELECT doc FROM edges WHERE id = ?').get(id) as { doc: string }).doc,
  ) as Record<string, unknown>;
  doc.functions = [
    {
      protocol: 'modbus',
      func: 6,
      name: 'write_single_register',
      count: 4,
      writes: 4,
      exceptions: 0,
    },
  ];
  db.prepare('UPDATE edges SET doc = ? WHERE id = ?').run(JSON.stringify(doc), id);
}

/** North has an active policy (its 10.1.0.0/24 in zone `control`, SL unset); south sent none. */
export function seed(site: 'north' | 'south', policy = site === 'north') {
  return (db: Db) => {
    seedSite(db, site, 2, 1);
    twin(db, site);
    if (policy) setPolicy(db, SITE_POLICY('monitor', site));
  };
}

/** Both sites carried into `fleetDir`/manager.db as the manager's ingest keeps them. */
export function fillTwinSites(fleetDir: string): void {
  mkdirSync(fleetDir, { recursive: true });
  mkdirSync(fleetDir, { recursive: true });
  const mgrFile = path.join(fleetDir, 'manager.db');
  carry('north', seed('north'), mgrFile);
  carry('south', seed('south'), mgrFile);
  const m = openFleetDb(mgrFile);
  // North sent one open detection about its twin (detections are records, not items).
  m.prepare(
    `INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, 'north', 'detection', ?, 1, 1, 1)`,
  ).run(
    'north:det:1',
    JSON.stringify({
      id: 'north-d1',
      type: 'write_to_plc',
      severity: 'high',
      status: 'open',
      ts: 1_790_000_000,
      src: '10.1.0.2',
      dst: '10.1.0.50',
      explanation: 'north writes',
    }),
  );
  m.close();
}
