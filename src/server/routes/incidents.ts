import type { RoutePlugin } from '../plugin.js';
import { requireRole } from '../access.js';
import { body, id, note, page, params } from '../schemas.js';
import { CAN } from '../../respond/roles.js';
import { getIncident, queryIncidents } from '../../store/incident-store.js';
import { addIncidentNote, setIncidentStatus } from '../../respond/incident-book.js';
import { NotFound } from '../../respond/detection-actions.js';
import { INCIDENT_STATUSES } from '../../respond/incident.js';
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
export const incidentRoutes: RoutePlugin = async (app, { db }) => {
  app.get(
    '/api/incidents',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { status: { enum: [...INCIDENT_STATUSES] }, ...page },
        },
      },
    },
    async (req) => {
      const q = req.query as { status?: string; limit: number; offset: number };
      const p = queryIncidents(db, q);
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

  app.get('/api/incidents/:id', { schema: { params: params({ id }) } }, async (req) => {
    const i = getIncident(db, (req.params as { id: string }).id);
    if (i === null) throw new NotFound(`no incident ${(req.params as { id: string }).id}`);
    return { ...i, ...names(i.tactics, i.techniques), notice: ATTACK_NOTICE };
  });

  const act = { preHandler: requireRole(CAN.actOnDetections) };
  for (const [path, status] of [
    ['acknowledge', 'acknowledged'],
    ['contain', 'contained'],
    ['close', 'closed'],
  ] as const) {
    app.post(
      `/api/incidents/:id/${path}`,
      { ...act, schema: { params: params({ id }), body: body([], { note }) } },
      async (req) =>
        setIncidentStatus(
          db,
          (req.params as { id: string }).id,
          status,
          req.caller!.name,
          (req.body as { note?: string } | undefined)?.note ?? '',
        ),
    );
  }
  app.post(
    '/api/incidents/:id/notes',
    {
      ...act,
      schema: {
        params: params({ id }),
        body: body(['text'], { text: { type: 'string', minLength: 1, maxLength: 4000 } }),
      },
    },
    async (req) =>
      addIncidentNote(
        db,
        (req.params as { id: string }).id,
        req.caller!.name,
        (req.body as { text: string }).text,
      ),
  );
};
