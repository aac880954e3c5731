import type { RoutePlugin } from '../plugin.js';
import { page, query } from '../schemas.js';
import { trafficColumns } from '../../store/traffic-store.js';
import { fleetFlows } from '../../fleet/aggregate-pages.js';
import { SITE_FILTER, withSite } from '../fleet-read.js';

/**
 * Packets per zone and direction over time, as chart columns. With a site: the site's flows (its edges, the
 * manager keeps no per-minute series of sites). Read-only: any session.
 */
export const trafficRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{
    Querystring: {
      zone?: string;
      limit: number;
      site?: string;
      q?: string;
      offset?: number;
    };
  }>(
    '/api/flows',
    {
      schema: {
        querystring: query({
          zone: { type: 'string', maxLength: 64 },
          limit: { type: 'integer', minimum: 1, maximum: 200_000, default: 20_000 },
          q: { type: 'string', maxLength: 200 },
          offset: page.offset,
          ...SITE_FILTER,
        }),
      },
    },
    async (req) => {
      const { site, q, offset = 0 } = req.query;
      if (site === undefined) return trafficColumns(db, req.query.zone, req.query.limit);
      const limit = Math.min(req.query.limit, 1000);
      return withSite(fleetDir, site, { total: 0, items: [], sites: [] }, (f) =>
        fleetFlows(f, site, { q, limit, offset }),
      );
    },
  );
};
