import type { RoutePlugin } from '../plugin.js';
import { ID_PARAMS, page, ref, type IdParams, query } from '../schemas.js';
import { assetPage, assetsPage, networkMap, type AssetQuery } from '../views/inventory.js';
import { fleetAssets, fleetMap } from '../../fleet/aggregate-read.js';
import { fleetAsset } from '../../fleet/aggregate-pages.js';
import { NotFound } from '../../respond/detection-actions.js';
import { ONE_SITE, SITE_FILTER, withSite } from '../fleet-read.js';

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
        : withSite(fleetDir, req.query.site!, { total: 0, items: [] }, (f) =>
            fleetAssets(f, req.query.site!, req.query),
          ),
  );

  // With a site: that site's asset (ids are per site, so the detail page names exactly one).
  app.get<{ Params: IdParams; Querystring: { site?: string } }>(
    '/api/assets/:id',
    { schema: { params: ref(ID_PARAMS), querystring: query(ONE_SITE) } },
    async (req) => {
      const { site } = req.query;
      if (site === undefined) return assetPage(db, req.params.id);
      return withSite(fleetDir, site, null, (f) => {
        const a = fleetAsset(f, site, req.params.id);
        if (a === null) throw new NotFound(`no asset ${req.params.id} at site ${site}`);
        return a;
      });
    },
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
        : withSite(fleetDir, req.query.site!, { totalPairs: 0, nodes: [], edges: [] }, (f) =>
            fleetMap(f, req.query.site!, req.query.limit),
          ),
  );
};
