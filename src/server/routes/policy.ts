import type { RoutePlugin } from '../plugin.js';
import { simulationDoc, simulationSummaries } from '../../store/read-store.js';
import { activePolicy } from '../../respond/change-control.js';
import { NotFound } from '../../respond/detection-actions.js';
import { ID_PARAMS, ref, type IdParams } from '../schemas.js';

/** The active policy and the recorded simulations. Read-only: any session. */
export const policyRoutes: RoutePlugin = async (app, { db }) => {
  app.get('/api/policy', async () => {
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
  });

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
