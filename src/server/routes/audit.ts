import type { RoutePlugin } from '../plugin.js';
import { query } from '../schemas.js';
import { auditReport } from '../../store/audit-store.js';
import { fleetAudit } from '../../fleet/aggregate-read.js';
import { SITE_FILTER, withSite } from '../fleet-read.js';

/** The audit log and its chain check. Read-only: any session. */
export const auditRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: { limit: number; site?: string } }>(
    '/api/audit',
    {
      schema: {
        querystring: query({
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 500 },
          ...SITE_FILTER,
        }),
      },
    },
    // A site's audit log as the site wrote it, with the manager's check of its chain.
    async (req) =>
      req.query.site === undefined
        ? auditReport(db, req.query.limit)
        : withSite(fleetDir, req.query.site!, { items: [], chains: [] }, (f) =>
            fleetAudit(f, req.query.site!, req.query.limit),
          ),
  );
};
