import type { RoutePlugin } from '../plugin.js';
import { ID_PARAMS, page, ref, type IdParams, query } from '../schemas.js';
import { assetPage, assetsPage, networkMap, type AssetQuery } from '../views/inventory.js';

/** The inventory and the communication map. Read-only: any session. */
export const assetRoutes: RoutePlugin = async (app, { db }) => {
  app.get<{ Querystring: AssetQuery }>(
    '/api/assets',
    {
      schema: {
        querystring: query({
          q: { type: 'string', maxLength: 200 },
          role: { type: 'string', maxLength: 40 },
          zone: { type: 'string', maxLength: 64 },
          ...page,
        }),
      },
    },
    async (req) => assetsPage(db, req.query),
  );

  app.get<{ Params: IdParams }>(
    '/api/assets/:id',
    { schema: { params: ref(ID_PARAMS) } },
    async (req) => assetPage(db, req.params.id),
  );

  app.get<{ Querystring: { limit: number; group: boolean } }>(
    '/api/map',
    {
      schema: {
        querystring: query({
          limit: { type: 'integer', minimum: 1, maximum: 20_000, default: 2000 },
          group: { type: 'boolean', default: false },
        }),
      },
    },
    async (req) => networkMap(db, req.query),
  );
};
