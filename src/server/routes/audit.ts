import type { RoutePlugin } from '../plugin.js';
import { query } from '../schemas.js';
import { auditReport } from '../../store/audit-store.js';

/** The audit log and its chain check. Read-only: any session. */
export const auditRoutes: RoutePlugin = async (app, { db }) => {
  app.get<{ Querystring: { limit: number } }>(
    '/api/audit',
    {
      schema: {
        querystring: query({
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 500 },
        }),
      },
    },
    async (req) => auditReport(db, req.query.limit),
  );
};
