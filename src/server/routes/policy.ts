import type { RoutePlugin } from '../plugin.js';
import { simulationDoc, simulationSummaries } from '../../store/read-store.js';
import { activePolicy } from '../../respond/change-control.js';
import { NotFound } from '../../respond/detection-actions.js';
import { ID_PARAMS, query, ref, type IdParams } from '../schemas.js';
import { fleetPolicies } from '../../fleet/policy-read.js';
import { SITE_FILTER, withFleetDb } from '../fleet-read.js';

/**
 * The active policy and the recorded simulations. Read-only: any session. With `?site=`, the active policy
 * each chosen site sent the manager (zones with their ladder modes and the assets each holds).
 */
export const policyRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: { site?: string } }>(
    '/api/policy',
    { schema: { querystring: query({ ...SITE_FILTER }) } },
    async (req) => {
      if (req.query.site !== undefined)
        return withFleetDb(fleetDir, { sites: [] }, (f) => fleetPolicies(f, req.query.site!));
      const a = activePolicy(db);
      return a === null
        ? { active: null }
        : {
            active: {
              sha: a.sha,
              source: a.source,
              text: a.text,
              zones: a.policy.zones,
              conduits: a.policy.conduits,
              groups: a.policy.groups.length,
            },
          };
    },
  );

  app.get('/api/simulations', async () => ({ items: simulationSummaries(db, 100) }));

  app.get<{ Params: IdParams }>(
    '/api/simulations/:id',
    { schema: { params: ref(ID_PARAMS) } },
    async (req) => {
      const doc = simulationDoc(db, req.params.id);
      if (doc === null) throw new NotFound('no such simulation');
      return doc;
    },
  );
};
