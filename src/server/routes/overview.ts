import type { RoutePlugin } from '../plugin.js';
import { enforcementOf, overviewOf } from '../views/overview.js';
import { fleetOverview } from '../../fleet/aggregate-read.js';
import { query } from '../schemas.js';
import { SITE_FILTER, withSite } from '../fleet-read.js';

/** The first page of the dashboard, and what the enforcement host runs. Read-only: any session. */
export const overviewRoutes: RoutePlugin = async (app, { db, stateDir, fleetDir }) => {
  app.get<{ Querystring: { site?: string } }>(
    '/api/overview',
    { schema: { querystring: query(SITE_FILTER) } },
    async (req) =>
      req.query.site === undefined
        ? overviewOf(db, stateDir)
        : withSite(fleetDir, req.query.site!, { sites: [], refused: [] }, (f) =>
            fleetOverview(f, req.query.site!),
          ),
  );
  app.get('/api/enforcement', async () => enforcementOf(db, stateDir));
};
