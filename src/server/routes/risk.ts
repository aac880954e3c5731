import type { RoutePlugin } from '../plugin.js';
import { riskReport } from '../../assess/risk-report.js';
import { advisoryIndexOf } from '../../assess/vuln-report.js';
import { advisoryCount } from '../../store/advisory-store.js';
import { fleetRisk } from '../../fleet/aggregate-pages.js';
import { query } from '../schemas.js';
import { SITE_FILTER, withSite } from '../fleet-read.js';

/**
 * Exposure paths, risk per asset and zone, and the patch plan: reads only, any role. With a site: each site's
 * assets scored on its own edges and detections, against the advisories this server holds.
 */
export const riskRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: { site?: string } }>(
    '/api/risk',
    { schema: { querystring: query(SITE_FILTER) } },
    async (req) => {
      const { site } = req.query;
      if (site === undefined) return riskReport(db);
      const index = advisoryCount(db) > 0 ? advisoryIndexOf(db) : null;
      const empty = {
        zonesUnknown: [],
        exposure: { targets: 0, paths: [] },
        risk: { assets: [], zones: [] },
        patchPlan: [],
      };
      return {
        site,
        advisories: advisoryCount(db),
        ...withSite(fleetDir, site, empty, (f) => fleetRisk(f, site, index)),
      };
    },
  );
};
