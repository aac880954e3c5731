import type { RoutePlugin } from '../plugin.js';
import { proposalsWithApprovals, type ProposalRow } from '../../store/change-store.js';
import type { Db } from '../../store/db.js';
import { approveProposal, rejectProposal, withdrawProposal } from '../../respond/change-control.js';
import { describeLapsed, lapsedApprovals } from '../../respond/approval-standing.js';
import { CAN } from '../../respond/roles.js';
import { requireRole } from '../auth.js';
import {
  body,
  note,
  NOTE_BODY,
  PROPOSAL_PARAMS,
  ref,
  type NoteBody,
  type ProposalParams,
} from '../schemas.js';
import { query } from '../schemas.js';
import { fleetProposals } from '../../fleet/policy-read.js';
import { SITE_FILTER, withFleetDb } from '../fleet-read.js';

/**
 * The approvals queue. The route lets only the approving roles through (defence in depth); change control then
 * checks that the caller holds the role they approve in, is not the author, and that the proposal needs it.
 * With `?site=`, the proposals sites sent the manager: read-only here (each is approved at its own site,
 * where change control and its gates run; the manager has no signed path to approve for a site).
 */
export const proposalRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: { site?: string } }>(
    '/api/proposals',
    { schema: { querystring: query({ ...SITE_FILTER }) } },
    async (req) =>
      req.query.site === undefined
        ? { items: proposalsWithApprovals(db).map((p) => withLapsed(db, p)) }
        : withFleetDb(fleetDir, { items: [] }, (f) => fleetProposals(f, req.query.site!)),
  );

  app.post<{ Params: ProposalParams; Body: { role: string; note?: string } }>(
    '/api/proposals/:id/approve',
    {
      preHandler: requireRole(CAN.propose),
      schema: {
        params: ref(PROPOSAL_PARAMS),
        body: body(['role'], { role: { type: 'string', maxLength: 32 }, note }),
      },
    },
    async (req) => {
      const p = approveProposal(db, {
        id: Number(req.params.id),
        actor: req.caller!.name,
        role: req.body.role,
        note: req.body.note,
      });
      return { status: p.status };
    },
  );

  app.post<{ Params: ProposalParams; Body: NoteBody }>(
    '/api/proposals/:id/reject',
    {
      preHandler: requireRole(CAN.propose),
      schema: { params: ref(PROPOSAL_PARAMS), body: ref(NOTE_BODY) },
    },
    async (req) => {
      rejectProposal(db, {
        id: Number(req.params.id),
        actor: req.caller!.name,
        note: req.body?.note,
      });
      return { ok: true };
    },
  );

  // The author takes back their own proposal (open, or approved and not applied); change control checks authorship.
  app.post<{ Params: ProposalParams; Body: NoteBody }>(
    '/api/proposals/:id/withdraw',
    {
      preHandler: requireRole([...new Set([...CAN.propose, ...CAN.actOnDetections])]),
      schema: { params: ref(PROPOSAL_PARAMS), body: ref(NOTE_BODY) },
    },
    async (req) => {
      withdrawProposal(db, {
        id: Number(req.params.id),
        actor: req.caller!.name,
        note: req.body?.note,
      });
      return { ok: true };
    },
  );
};

/** An open or approved proposal whose approvals no longer all count says why (review 14 C3). */
function withLapsed<P extends ProposalRow>(db: Db, p: P): P & { lapsed?: string } {
  if (p.status !== 'open' && p.status !== 'approved') return p;
  const why = describeLapsed(p.id, lapsedApprovals(db, p));
  return why === null ? p : { ...p, lapsed: why };
}
