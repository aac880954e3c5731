import type { RoutePlugin } from '../plugin.js';
import { query } from '../schemas.js';
import { trafficColumns } from '../../store/traffic-store.js';

/** Packets per zone and direction over time, as chart columns. Read-only: any session. */
export const trafficRoutes: RoutePlugin = async (app, { db }) => {
  app.get<{ Querystring: { zone?: string; limit: number } }>(
    '/api/flows',
    {
      schema: {
        querystring: query({
          zone: { type: 'string', maxLength: 64 },
          limit: { type: 'integer', minimum: 1, maximum: 200_000, default: 20_000 },
        }),
      },
    },
    async (req) => trafficColumns(db, req.query.zone, req.query.limit),
  );
};
