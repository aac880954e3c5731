import type { RoutePlugin } from '../plugin.js';
import { queryDetections } from '../../store/read-store.js';
import { siteRecords } from '../../fleet/site-view.js';
import { SITE_FILTER, withSite } from '../fleet-read.js';
import {
  learnDetection,
  learnPreview,
  muteDetection,
  setDetectionStatus,
  unmuteDetection,
} from '../../respond/detection-actions.js';
import { proposeBlock } from '../../respond/block-proposal.js';
import { CAN } from '../../respond/roles.js';
import { requireRole } from '../auth.js';
import {
  body,
  ID_PARAMS,
  note,
  NOTE_BODY,
  page,
  ref,
  type IdParams,
  type NoteBody,
  query,
} from '../schemas.js';

interface DetectionQuery {
  status?: 'open' | 'acknowledged' | 'learned' | 'muted';
  severity?: 'low' | 'medium' | 'high' | 'critical';
  limit: number;
  offset: number;
}

/** Detections, and what an analyst does with one: each action role-checked and audited (in respond/). */
export const detectionRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: DetectionQuery & { site?: string } }>(
    '/api/detections',
    {
      schema: {
        querystring: query({
          status: { enum: ['open', 'acknowledged', 'learned', 'muted'] },
          severity: { enum: ['low', 'medium', 'high', 'critical'] },
          ...page,
          ...SITE_FILTER,
        }),
      },
    },
    // With a site: the copies the manager keeps of what the site detected (acted on at the site).
    async (req) =>
      req.query.site === undefined
        ? queryDetections(db, req.query)
        : withSite(fleetDir, req.query.site!, { items: [], total: 0 }, (f) =>
            siteRecords(f, req.query.site!, 'detection', req.query.limit, req.query.offset),
          ),
  );

  // What "learn" would make normal, for the confirmation the dashboard shows first.
  app.get<{ Params: IdParams }>(
    '/api/detections/:id/learn-preview',
    { schema: { params: ref(ID_PARAMS) } },
    async (req) => learnPreview(db, req.params.id),
  );

  const act = { preHandler: requireRole(CAN.actOnDetections) };

  app.post<{ Params: IdParams; Body: NoteBody }>(
    '/api/detections/:id/acknowledge',
    { ...act, schema: { params: ref(ID_PARAMS), body: ref(NOTE_BODY) } },
    async (req) => {
      setDetectionStatus(db, req.params.id, 'acknowledged', req.caller!.name, req.body?.note ?? '');
      return { ok: true };
    },
  );

  app.post<{ Params: IdParams; Body: { note?: string; confirm?: boolean } | undefined }>(
    '/api/detections/:id/learn',
    {
      ...act,
      schema: { params: ref(ID_PARAMS), body: body([], { note, confirm: { type: 'boolean' } }) },
    },
    async (req) =>
      learnDetection(
        db,
        req.params.id,
        req.caller!.name,
        req.body?.note ?? '',
        req.body?.confirm === true,
      ),
  );

  app.post<{ Params: IdParams; Body: { reason: string; days?: number } }>(
    '/api/detections/:id/mute',
    {
      ...act,
      schema: {
        params: ref(ID_PARAMS),
        body: body(['reason'], {
          reason: { type: 'string', minLength: 1, maxLength: 2000 },
          days: { type: 'integer', minimum: 1, maximum: 3650 },
        }),
      },
    },
    async (req) =>
      muteDetection(db, req.params.id, req.caller!.name, req.body.reason, req.body.days),
  );

  app.post<{ Params: IdParams; Body: { reason?: string } | undefined }>(
    '/api/detections/:id/unmute',
    {
      ...act,
      schema: {
        params: ref(ID_PARAMS),
        body: body([], { reason: { type: 'string', maxLength: 2000 } }),
      },
    },
    async (req) => unmuteDetection(db, req.params.id, req.caller!.name, req.body?.reason ?? ''),
  );

  app.post<{ Params: IdParams; Body: { ttl?: number; note?: string } | undefined }>(
    '/api/detections/:id/propose-block',
    {
      ...act,
      schema: {
        params: ref(ID_PARAMS),
        body: body([], { ttl: { type: 'integer', minimum: 60, maximum: 30 * 86400 }, note }),
      },
    },
    async (req) => ({
      proposal: proposeBlock(db, {
        detection: req.params.id,
        actor: req.caller!.name,
        ttl: req.body?.ttl,
        note: req.body?.note,
      }),
    }),
  );
};
