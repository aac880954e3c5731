import type { RoutePlugin } from '../plugin.js';
import { ID_PARAMS, page, ref, type IdParams, query } from '../schemas.js';
import { assetPage, assetsPage, networkMap, type AssetQuery } from '../views/inventory.js';
import { fleetAssets, fleetMap } from '../../fleet/aggregate-read.js';
import { SITE_FILTER, withFleetDb } from '../fleet-read.js';

/** The inventory and the communication map. Read-only: any session. */
export const assetRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: AssetQuery & { site?: string } }>(
    '/api/assets',
    {
      schema: {
        querystring: query({
          q: { type: 'string', maxLength: 200 },
          role: { type: 'string', maxLength: 40 },
          zone: { type: 'string', maxLength: 64 },
          ...page,
          ...SITE_FILTER,
        }),
      },
    },
    async (req) =>
      req.query.site === undefined
        ? assetsPage(db, req.query)
        : withFleetDb(fleetDir, { total: 0, items: [] }, (f) =>
            fleetAssets(f, req.query.site!, req.query),
          ),
  );

  app.get<{ Params: IdParams }>(
    '/api/assets/:id',
    { schema: { params: ref(ID_PARAMS) } },
    async (req) => assetPage(db, req.params.id),
  );

  app.get<{ Querystring: { limit: number; group: boolean; site?: string } }>(
    '/api/map',
    {
      schema: {
        querystring: query({
          limit: { type: 'integer', minimum: 1, maximum: 20_000, default: 2000 },
          group: { type: 'boolean', default: false },
          ...SITE_FILTER,
        }),
      },
    },
    async (req) =>
      req.query.site === undefined
        ? networkMap(db, req.query)
        : withFleetDb(fleetDir, { totalPairs: 0, nodes: [], edges: [] }, (f) =>
            fleetMap(f, req.query.site!, req.query.limit),
          ),
  );
};
