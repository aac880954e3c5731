import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RoutePlugin } from '../plugin.js';
import { openFleetDb, type FleetDb } from '../../fleet/fleet-db.js';
import { readFleetView, siteRecords, type FleetView } from '../../fleet/site-view.js';
import { page, params, query } from '../schemas.js';

const SITE = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' };

/**
 * The fleet manager's sites (when `weir serve --fleet-manager DIR` names its folder) and what they sent. Read
 * from manager.db on each request: the manager (`weir manager run`) is a process of its own writing it.
 */
export const siteRoutes: RoutePlugin = async (app, { fleetDir, fleetHealth }) => {
  const withDb = <T>(empty: T, f: (db: FleetDb) => T): T => {
    if (fleetDir === undefined) return empty;
    const file = path.join(fleetDir, 'manager.db');
    if (!existsSync(file)) return empty;
    const db = openFleetDb(file);
    try {
      return f(db);
    } finally {
      db.close();
    }
  };

  app.get('/api/sites', async (): Promise<FleetView & { fleet: boolean }> => {
    const none: FleetView = {
      latest: { policy: null, blocklist: null, permits: null, bundle: null },
      sites: [],
    };
    return {
      fleet: fleetDir !== undefined,
      ...withDb(none, (db) => readFleetView(db, Date.now(), fleetHealth)),
    };
  });

  // Detections a site sent: the site filter's view of the detections page.
  app.get<{ Params: { site: string }; Querystring: { limit: number; offset: number } }>(
    '/api/sites/:site/detections',
    { schema: { params: params({ site: SITE }), querystring: query(page) } },
    async (req) => ({
      fleet: fleetDir !== undefined,
      ...withDb({ items: [], total: 0 }, (db) =>
        siteRecords(db, req.params.site, 'detection', req.query.limit, req.query.offset),
      ),
    }),
  );
};
