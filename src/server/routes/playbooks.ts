import type { RoutePlugin } from '../plugin.js';
import { requireRole } from '../auth.js';
import { ID_PARAMS, page, query, ref, type IdParams } from '../schemas.js';
import { CAN } from '../../respond/roles.js';
import { activePolicy } from '../../respond/change-control.js';
import { undoPlaybookAction } from '../../respond/playbook-undo.js';
import { listPlaybookActions } from '../../store/playbook-store.js';
import { playbookBackend } from '../../enforce/playbook-backend.js';
import { fleetPlaybooks } from '../../fleet/policy-read.js';
import { SITE_FILTER, withFleetDb } from '../fleet-read.js';

/**
 * The zones' pre-approved playbooks and what they did: read by anyone logged in; undone only by a person
 * allowed to enforce (the kernel of this enforcement host is changed, and the undo is audited). With `?site=`,
 * what sites sent the manager: read-only (an undo is done at the site, on its own kernel).
 */
export const playbookRoutes: RoutePlugin = async (app, deps) => {
  const { db, stateDir, fleetDir } = deps;
  const site = deps.siteEnforcement ?? ((b) => b);

  app.get<{ Querystring: { limit: number; site?: string } }>(
    '/api/playbooks',
    { schema: { querystring: query({ limit: page.limit, ...SITE_FILTER }) } },
    async (req) => {
      if (req.query.site !== undefined)
        return withFleetDb(fleetDir, { policies: [], playbooks: [], actions: [] }, (f) =>
          fleetPlaybooks(f, req.query.site!, req.query.limit),
        );
      const a = activePolicy(db);
      const playbooks = (a?.policy.zones ?? []).flatMap((z) =>
        (z.playbooks ?? []).map((p) => ({ zone: z.name, approvals: z.approvals, ...p })),
      );
      return {
        policy: a?.sha.slice(0, 12) ?? null,
        playbooks,
        actions: listPlaybookActions(db, req.query.limit),
      };
    },
  );

  app.post<{ Params: IdParams }>(
    '/api/playbooks/actions/:id/undo',
    { preHandler: requireRole(CAN.enforce), schema: { params: ref(ID_PARAMS) } },
    async (req) => {
      const backend = site(playbookBackend({ stateDir }));
      try {
        const c = req.caller!;
        return await undoPlaybookAction(
          db,
          { id: req.params.id, actor: c.name, roles: c.roles },
          backend,
        );
      } finally {
        backend.close();
      }
    },
  );
};
