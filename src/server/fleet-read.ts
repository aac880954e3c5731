/**
 * The site filter of the dashboard's routes: `?site=NAME` (one site) or `?site=*` (all sites, merged with a
 * site column) reads what the fleet manager aggregated in manager.db instead of this server's own store.
 * manager.db is opened per request: `weir manager run` is another process writing it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openFleetDb, type FleetDb } from '../fleet/fleet-db.js';
import { siteKnown } from '../fleet/aggregate-pages.js';

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

/** One site only (a detail page: ids are per site). */
export const ONE_SITE = { site: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' } };

export class NoSuchSite extends Error {
  readonly statusCode = 404;
}

/**
 * Read one site's (or, with '*', every site's) data from manager.db. A site the manager never heard from is
 * refused (404), so a mistyped or guessed name reads as unknown, never as a site with nothing in it.
 */
export function withSite<T>(
  fleetDir: string | undefined,
  site: string,
  empty: T,
  f: (db: FleetDb, site: string) => T,
): T {
  const known = (db: FleetDb): boolean => site === '*' || siteKnown(db, site);
  const none = Symbol('none');
  const r = withFleetDb<T | typeof none>(fleetDir, none, (db) => (known(db) ? f(db, site) : none));
  if (r !== none) return r;
  if (site === '*' && fleetDir !== undefined && !existsSync(path.join(fleetDir, 'manager.db')))
    return empty;
  throw new NoSuchSite(`no site ${site} at this manager`);
}
