import type { RoutePlugin } from '../plugin.js';
import { requireRole } from '../auth.js';
import {
  body,
  ID_PARAMS,
  NOTE_BODY,
  page,
  query,
  ref,
  type IdParams,
  type NoteBody,
} from '../schemas.js';
import { CAN } from '../../respond/roles.js';
import { getIncident, queryIncidents } from '../../store/incident-store.js';
import { addIncidentNote, setIncidentStatus } from '../../respond/incident-book.js';
import { NotFound } from '../../respond/detection-actions.js';
import { fleetIncidents } from '../../fleet/aggregate-read.js';
import { fleetIncident } from '../../fleet/aggregate-pages.js';
import { ONE_SITE, SITE_FILTER, withSite } from '../fleet-read.js';
import { INCIDENT_STATUSES, type IncidentStatus } from '../../detect/incident.js';
import { tacticName, techniqueName } from '../../detect/attack-map.js';
import { ATTACK_NOTICE } from '../../detect/attack-ics.js';

/** Names of an incident's tactics and techniques, so the dashboard shows them offline. */
function names(tactics: string[], techniques: string[]) {
  return {
    tacticNames: Object.fromEntries(tactics.map((t) => [t, tacticName(t)])),
    techniqueNames: Object.fromEntries(techniques.map((t) => [t, techniqueName(t)])),
  };
}

/** Incidents: list, one with its timeline, and the analysts' status changes and notes (audited). */
export const incidentRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{
    Querystring: { status?: IncidentStatus; limit: number; offset: number; site?: string };
  }>(
    '/api/incidents',
    {
      schema: {
        querystring: query({ status: { enum: [...INCIDENT_STATUSES] }, ...page, ...SITE_FILTER }),
      },
    },
    async (req) => {
      if (req.query.site !== undefined) {
        const site = req.query.site;
        const p = withSite(fleetDir, req.query.site!, { total: 0, items: [] }, (f) =>
          fleetIncidents(f, site, req.query),
        );
        return {
          total: p.total,
          notice: ATTACK_NOTICE,
          items: p.items.map((i) => ({
            ...i,
            ...names(i.tactics as string[], i.techniques as string[]),
          })),
        };
      }
      const p = queryIncidents(db, req.query);
      // The list needs no timeline: a page of busy incidents would otherwise carry all their evidence.
      return {
        total: p.total,
        notice: ATTACK_NOTICE,
        items: p.items.map(({ timeline: _t, ...i }) => ({
          ...i,
          ...names(i.tactics, i.techniques),
        })),
      };
    },
  );

  // With a site: that site's incident as it sent it (read-only here: the site acts on its incidents).
  app.get<{ Params: IdParams; Querystring: { site?: string } }>(
    '/api/incidents/:id',
    { schema: { params: ref(ID_PARAMS), querystring: query(ONE_SITE) } },
    async (req) => {
      const { site } = req.query;
      if (site !== undefined)
        return withSite(fleetDir, site, null, (f) => {
          const i = fleetIncident(f, site, req.params.id);
          if (i === null) throw new NotFound(`no incident ${req.params.id} at site ${site}`);
          return { ...i, ...names(i.tactics, i.techniques), notice: ATTACK_NOTICE };
        });
      const i = getIncident(db, req.params.id);
      if (i === null) throw new NotFound(`no incident ${req.params.id}`);
      return { ...i, ...names(i.tactics, i.techniques), notice: ATTACK_NOTICE };
    },
  );

  const act = { preHandler: requireRole(CAN.actOnDetections) };
  for (const [path, status] of [
    ['acknowledge', 'acknowledged'],
    ['contain', 'contained'],
    ['close', 'closed'],
  ] as const) {
    app.post<{ Params: IdParams; Body: NoteBody }>(
      `/api/incidents/:id/${path}`,
      { ...act, schema: { params: ref(ID_PARAMS), body: ref(NOTE_BODY) } },
      async (req) =>
        setIncidentStatus(db, req.params.id, status, req.caller!.name, req.body?.note ?? ''),
    );
  }
  app.post<{ Params: IdParams; Body: { text: string } }>(
    '/api/incidents/:id/notes',
    {
      ...act,
      schema: {
        params: ref(ID_PARAMS),
        body: body(['text'], { text: { type: 'string', minLength: 1, maxLength: 4000 } }),
      },
    },
    async (req) => addIncidentNote(db, req.params.id, req.caller!.name, req.body.text),
  );
};
