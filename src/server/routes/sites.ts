import type { RoutePlugin } from '../plugin.js';
import type { FleetDb } from '../../fleet/fleet-db.js';
import { withFleetDb } from '../fleet-read.js';
import { readFleetView, siteRecords, type FleetView } from '../../fleet/site-view.js';
import { page, params, query } from '../schemas.js';

const SITE = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' };

/**
 * The fleet manager's sites (when `weir serve --fleet-manager DIR` names its folder) and what they sent. Read
 * from manager.db on each request: the manager (`weir manager run`) is a process of its own writing it.
 */
export const siteRoutes: RoutePlugin = async (app, { fleetDir, fleetHealth }) => {
  // A server without a fleet shows an empty sites page here (the site-filtered routes refuse instead).
  const withDb = <T>(empty: T, f: (db: FleetDb) => T): T =>
    fleetDir === undefined ? empty : withFleetDb(fleetDir, empty, f);

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
