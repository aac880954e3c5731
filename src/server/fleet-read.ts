/**
 * The site filter of the dashboard's routes: `?site=NAME` (one site) or `?site=*` (all sites, merged with a
 * site column) reads what the fleet manager aggregated in manager.db instead of this server's own store.
 * manager.db is opened per request: `weir manager run` is another process writing it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openFleetDb, type FleetDb } from '../fleet/fleet-db.js';

/** One site's name, or '*' for all. */
export const SITE_FILTER = { site: { type: 'string', pattern: '^(\\*|[a-z0-9][a-z0-9-]{0,31})$' } };

export class NoFleet extends Error {
  readonly statusCode = 400;
}

/** Read manager.db of the fleet this server shows (`empty` while the manager has stored nothing yet). */
export function withFleetDb<T>(fleetDir: string | undefined, empty: T, f: (db: FleetDb) => T): T {
  if (fleetDir === undefined)
    throw new NoFleet('this server runs no fleet manager: there is no site to filter by');
  const file = path.join(fleetDir, 'manager.db');
  if (!existsSync(file)) return empty;
  const db = openFleetDb(file);
  try {
    return f(db);
  } finally {
    db.close();
  }
}
