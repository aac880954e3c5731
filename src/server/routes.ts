import type { FastifyInstance } from 'fastify';
import type { Db } from '../store/db.js';
import { getDetection, latestBaseline } from '../store/baseline-store.js';
import {
  activePolicySha,
  approvalsOf,
  insertProposal,
  listProposals,
} from '../store/change-store.js';
import { listAudit, checkAudit, appendAudit } from '../store/audit-store.js';
import { trafficSeries } from '../store/traffic-store.js';
import {
  countRows,
  detectionCounts,
  edgesOf,
  getAsset,
  listSimulations,
  queryAssets,
  queryDetections,
  simulationDoc,
  topPairs,
  pairFunctions,
} from '../store/read-store.js';
import {
  activePolicy,
  approveProposal,
  ChangeRefused,
  rejectProposal,
} from '../respond/change-control.js';
import {
  learnDetection,
  learnPreview,
  muteDetection,
  NotFound,
  setDetectionStatus,
  unmuteDetection,
} from '../respond/detection-actions.js';
import { CAN } from '../respond/roles.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import type { ZoneCounts } from '../policy/simulate.js';
import { requireRole } from './access.js';
import { enforcementView } from './enforcement-view.js';
import { registerUserRoutes } from './user-routes.js';
import { body, id, note, page, params } from './schemas.js';

export async function registerRoutes(
  app: FastifyInstance,
  db: Db,
  opts: { stateDir: string },
): Promise<void> {
  // Reading and compiling a large policy takes a while: do it once per active version, not per request.
  let compiled: { sha: string; cp: CompiledPolicy } | null = null;
  const zonesOf = (): CompiledPolicy | null => {
    const sha = activePolicySha(db);
    if (sha === null) return null;
    if (compiled?.sha !== sha) {
      const a = activePolicy(db)!;
      compiled = { sha, cp: new CompiledPolicy(a.policy) };
    }
    return compiled.cp;
  };

  app.get('/api/me', async (req) => req.caller);

  app.get('/api/overview', async () => {
    const cp = zonesOf();
    const counts = detectionCounts(db);
    const open = Object.values(counts.open ?? {}).reduce((a, b) => a + b, 0);
    const critical = (counts.open?.critical ?? 0) + (counts.open?.high ?? 0);
    const assets = countRows(db, 'assets');
    const zones =
      cp?.policy.zones.map((z) => ({
        name: z.name,
        mode: z.mode,
        securityLevel: z.securityLevel ?? null,
        members: z.members.length,
      })) ?? [];
    const enforcing = zones.filter((z) => z.mode === 'enforce').map((z) => z.name);
    // What blocks traffic is what the enforcement host runs, not what the policy says: say which, or "unknown".
    const enforcement = enforcementView(opts.stateDir, activePolicySha(db));
    const health = [
      `${assets} assets on the map${cp ? ` in ${zones.length} zones` : ', no policy yet'}.`,
      open === 0
        ? 'No open detections.'
        : `${open} open detection${open === 1 ? '' : 's'}${critical ? `, ${critical} of them high or critical: look at these first` : ''}.`,
      enforcing.length
        ? `The active policy puts ${enforcing.join(', ')} in enforce.`
        : 'The active policy enforces no zone.',
      enforcement.text,
    ].join(' ');
    return {
      assets,
      edges: countRows(db, 'edges'),
      detections: counts,
      openDetections: open,
      baselineVersion: latestBaseline(db)?.version ?? null,
      zones,
      health,
      enforcement,
    };
  });

  app.get('/api/enforcement', async () => enforcementView(opts.stateDir, activePolicySha(db)));

  app.get(
    '/api/assets',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            q: { type: 'string', maxLength: 200 },
            role: { type: 'string', maxLength: 40 },
            zone: { type: 'string', maxLength: 64 },
            ...page,
          },
        },
      },
    },
    async (req) => {
      const q = req.query as {
        q?: string;
        role?: string;
        zone?: string;
        limit: number;
        offset: number;
      };
      const cp = zonesOf();
      const r = queryAssets(db, {
        text: q.q,
        role: q.role,
        limit: q.zone ? 100_000 : q.limit,
        offset: q.zone ? 0 : q.offset,
      });
      let items = r.items.map((a) => ({ ...a, zone: cp?.zoneOf(a.ips[0] ?? a.id)?.name ?? null }));
      let total = r.total;
      if (q.zone) {
        items = items.filter((a) => a.zone === q.zone);
        total = items.length;
        items = items.slice(q.offset, q.offset + q.limit);
      }
      return { total, items };
    },
  );

  app.get('/api/assets/:id', { schema: { params: params({ id }) } }, async (req) => {
    const a = getAsset(db, (req.params as { id: string }).id);
    if (a === null) throw new NotFound('no such asset');
    const cp = zonesOf();
    return {
      asset: { ...a, zone: cp?.zoneOf(a.ips[0] ?? a.id)?.name ?? null },
      edges: edgesOf(db, a.ips.length ? a.ips : [a.id], 500),
      detections: queryDetections(db, { ip: a.ips[0] ?? a.id, limit: 200, offset: 0 }).items,
    };
  });

  app.get(
    '/api/map',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 20_000, default: 2000 },
            group: { type: 'boolean', default: false },
          },
        },
      },
    },
    async (req) => {
      const { limit, group } = req.query as { limit: number; group: boolean };
      const cp = zonesOf();
      const edges = topPairs(db, limit, group);
      const ips = new Set(edges.items.flatMap((e) => [e.client, e.server]));
      const assets = queryAssets(db, { ids: [...ips], limit: ips.size + 1, offset: 0 }).items;
      const byIp = new Map(assets.flatMap((a) => a.ips.map((ip) => [ip, a] as const)));
      return {
        totalPairs: edges.total,
        nodes: [...ips].map((ip) => ({
          id: ip,
          role: byIp.get(ip)?.role ?? 'unknown',
          name: byIp.get(ip)?.hostnames[0] ?? null,
          zone: cp?.zoneOf(ip)?.name ?? null,
        })),
        // Small maps name what travels on each line; large ones stay light.
        edges:
          edges.items.length <= 300
            ? edges.items.map((e) => ({ ...e, functions: pairFunctions(db, e.client, e.server) }))
            : edges.items,
      };
    },
  );

  app.get(
    '/api/detections',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { enum: ['open', 'acknowledged', 'learned', 'muted'] },
            severity: { enum: ['low', 'medium', 'high', 'critical'] },
            ...page,
          },
        },
      },
    },
    async (req) =>
      queryDetections(
        db,
        req.query as { status?: string; severity?: string; limit: number; offset: number },
      ),
  );

  const act = { preHandler: requireRole(CAN.actOnDetections) };
  app.post(
    '/api/detections/:id/acknowledge',
    { ...act, schema: { params: params({ id }), body: body([], { note }) } },
    async (req) => {
      setDetectionStatus(
        db,
        (req.params as { id: string }).id,
        'acknowledged',
        req.caller!.name,
        (req.body as { note?: string } | undefined)?.note ?? '',
      );
      return { ok: true };
    },
  );
  // What "learn" would make normal, for the confirmation the dashboard shows first.
  app.get(
    '/api/detections/:id/learn-preview',
    { schema: { params: params({ id }) } },
    async (req) => learnPreview(db, (req.params as { id: string }).id),
  );
  app.post(
    '/api/detections/:id/learn',
    {
      ...act,
      schema: { params: params({ id }), body: body([], { note, confirm: { type: 'boolean' } }) },
    },
    async (req) => {
      const b = req.body as { note?: string; confirm?: boolean } | undefined;
      return learnDetection(
        db,
        (req.params as { id: string }).id,
        req.caller!.name,
        b?.note ?? '',
        b?.confirm === true,
      );
    },
  );
  app.post(
    '/api/detections/:id/mute',
    {
      ...act,
      schema: {
        params: params({ id }),
        body: body(['reason'], {
          reason: { type: 'string', minLength: 1, maxLength: 2000 },
          days: { type: 'integer', minimum: 1, maximum: 3650 },
        }),
      },
    },
    async (req) => {
      const b = req.body as { reason: string; days?: number };
      return muteDetection(
        db,
        (req.params as { id: string }).id,
        req.caller!.name,
        b.reason,
        b.days,
      );
    },
  );
  app.post(
    '/api/detections/:id/unmute',
    {
      ...act,
      schema: {
        params: params({ id }),
        body: body([], { reason: { type: 'string', maxLength: 2000 } }),
      },
    },
    async (req) =>
      unmuteDetection(
        db,
        (req.params as { id: string }).id,
        req.caller!.name,
        (req.body as { reason?: string } | undefined)?.reason ?? '',
      ),
  );
  app.post(
    '/api/detections/:id/propose-block',
    {
      ...act,
      schema: {
        params: params({ id }),
        body: body([], { ttl: { type: 'integer', minimum: 60, maximum: 30 * 86400 }, note }),
      },
    },
    async (req) => {
      const detId = (req.params as { id: string }).id;
      const det = getDetection(db, detId);
      if (det === null) throw new NotFound(`no detection ${detId}`);
      const active = activePolicy(db);
      if (active === null)
        throw new ChangeRefused(
          'no active policy: block proposals are approved by the roles of the zone they protect',
        );
      const cp = new CompiledPolicy(active.policy);
      const zone = cp.zoneOf(det.dst) ?? cp.zoneOf(det.src);
      const b = req.body as { ttl?: number; note?: string } | undefined;
      const ttl = b?.ttl ?? 3600;
      const pid = insertProposal(db, {
        kind: 'source_block',
        zone: zone?.name ?? null,
        policySha: active.sha,
        baseSha: active.sha,
        requiredRoles: zone?.approvals ?? ['security'],
        createdBy: req.caller!.name,
        note: b?.note ?? `block ${det.src} after ${det.type}`,
        doc: { ip: det.src, ttl_s: ttl, detection: detId },
      });
      appendAudit(db, {
        actor: req.caller!.name,
        action: 'proposal.created',
        subject: `proposal ${pid}`,
        details: { kind: 'source_block', ip: det.src, ttl_s: ttl, detection: detId },
      });
      return { proposal: pid };
    },
  );

  app.get(
    '/api/flows',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            zone: { type: 'string', maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: 200_000, default: 20_000 },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { zone?: string; limit: number };
      // Columns for a chart: one time axis, and per zone and direction the packets per bucket (0 where none).
      const rows = trafficSeries(db, q.zone, q.limit);
      const buckets = [...new Set(rows.map((r) => r.bucket))].sort((a, b) => a - b);
      const at = new Map(buckets.map((b, i) => [b, i]));
      const zones: Record<string, Record<'in' | 'out' | 'within', number[]>> = {};
      for (const r of rows) {
        const z = (zones[r.zone] ??= {
          in: new Array<number>(buckets.length).fill(0),
          out: new Array<number>(buckets.length).fill(0),
          within: new Array<number>(buckets.length).fill(0),
        });
        z[r.direction][at.get(r.bucket)!] = r.packets;
      }
      return { buckets, zones };
    },
  );

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
  // Counted as `weir policy simulate` counts: blocked flows are edges, and of them the probes of scans.
  app.get('/api/simulations', async () => ({
    items: listSimulations(db, 100).map(withScanCounts),
  }));
  app.get('/api/simulations/:id', { schema: { params: params({ id }) } }, async (req) => {
    const doc = simulationDoc(db, (req.params as { id: string }).id);
    if (doc === null) throw new NotFound('no such simulation');
    return doc;
  });

  app.get('/api/proposals', async () => ({
    items: listProposals(db).map((p) => ({ ...p, approvals: approvalsOf(db, p.id) })),
  }));
  const pid = { type: 'string', pattern: '^[0-9]{1,9}$' };
  app.post(
    '/api/proposals/:id/approve',
    {
      schema: {
        params: params({ id: pid }),
        body: body(['role'], { role: { type: 'string', maxLength: 32 }, note }),
      },
    },
    async (req) => {
      const b = req.body as { role: string; note?: string };
      const p = approveProposal(db, {
        id: Number((req.params as { id: string }).id),
        actor: req.caller!.name,
        role: b.role,
        note: b.note,
      });
      return { status: p.status };
    },
  );
  app.post(
    '/api/proposals/:id/reject',
    {
      preHandler: requireRole(CAN.propose),
      schema: { params: params({ id: pid }), body: body([], { note }) },
    },
    async (req) => {
      rejectProposal(db, {
        id: Number((req.params as { id: string }).id),
        actor: req.caller!.name,
        note: (req.body as { note?: string } | undefined)?.note,
      });
      return { ok: true };
    },
  );

  app.get(
    '/api/audit',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 500 } },
        },
      },
    },
    async (req) => {
      const { limit } = req.query as { limit: number };
      // The check says what it proves and what it does not: the dashboard shows both, not just "intact".
      const check = checkAudit(db);
      return {
        items: listAudit(db, limit).reverse(),
        chain: check.status === 'intact' ? 'intact' : check.problem,
        check,
      };
    },
  );

  registerUserRoutes(app, db);
}

/** The scans and scan probes of a recorded simulation, summed over its zones (absent in older records: 0). */
function withScanCounts(item: Record<string, unknown>): Record<string, unknown> {
  const zones = Object.values((item.zones ?? {}) as Record<string, ZoneCounts>);
  return {
    ...item,
    scans: zones.reduce((n, z) => n + (z.scans ?? 0), 0),
    scanProbes: zones.reduce((n, z) => n + (z.scanProbes ?? 0), 0),
  };
}
