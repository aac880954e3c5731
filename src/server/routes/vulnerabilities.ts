import type { RoutePlugin } from '../plugin.js';
import { getAdvisory, advisoryCount } from '../../store/advisory-store.js';
import { getAsset } from '../../store/read-store.js';
import { NotFound } from '../../respond/detection-actions.js';
import { vulnerabilityReport } from '../../assess/vuln-report.js';
import { CONFIDENCE_RANK, type Confidence } from '../../assess/advisories/match.js';
import { params, query } from '../schemas.js';

const confidence = query({
  minConfidence: { type: 'string', enum: ['exact', 'family', 'possible'], default: 'family' },
});
interface ConfidenceQuery {
  minConfidence: Confidence;
}
const advisoryId = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' };
const assetId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9:._-]+$' };

/** Vulnerabilities of the plant's assets from the imported advisories: reads only, any role. */
export const vulnerabilityRoutes: RoutePlugin = async (app, { db }) => {
  app.get<{ Querystring: ConfidenceQuery }>(
    '/api/vulnerabilities',
    { schema: { querystring: confidence } },
    async (req) => {
      const { minConfidence } = req.query;
      const imported = advisoryCount(db);
      return { imported, report: imported > 0 ? vulnerabilityReport(db, { minConfidence }) : null };
    },
  );

  app.get<{ Params: { id: string }; Querystring: ConfidenceQuery }>(
    '/api/vulnerabilities/assets/:id',
    { schema: { params: params({ id: assetId }), querystring: confidence } },
    async (req) => {
      const { id } = req.params;
      const { minConfidence } = req.query;
      if (getAsset(db, id) === null) throw new NotFound('no such asset');
      const r = advisoryCount(db) > 0 ? vulnerabilityReport(db, { minConfidence }) : null;
      return {
        assetId: id,
        maintenanceWindows: r?.maintenanceWindows ?? [],
        vulnerabilities: r?.assets.find((a) => a.assetId === id) ?? null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/advisories/:id',
    { schema: { params: params({ id: advisoryId }) } },
    async (req) => {
      const { id } = req.params;
      const a = getAdvisory(db, id);
      if (a === null) throw new NotFound('no such advisory');
      const r = vulnerabilityReport(db, { minConfidence: 'possible' });
      const plant = r.assets.flatMap((x) =>
        x.findings
          .filter((f) => f.advisoryId === id)
          .map((f) => ({
            assetId: x.assetId,
            addresses: x.addresses,
            zone: x.zone,
            confidence: f.confidence,
            reported: CONFIDENCE_RANK[f.confidence] >= CONFIDENCE_RANK.family,
            reason: f.reason,
            product: f.product,
            fixAvailable: f.fixAvailable,
            window: f.window,
            windowNote: f.windowNote,
          })),
      );
      return {
        id: a.id,
        title: a.title,
        publisher: a.publisher,
        initialRelease: a.initialRelease,
        currentRelease: a.currentRelease,
        revision: a.revision,
        vulnerabilities: a.vulns.map((v) => ({
          cve: v.cve,
          cwe: v.cwe,
          title: v.title,
          cvss: v.cvss,
          remediations: [
            ...new Map(v.remediations.map((r) => [`${r.category}|${r.details}`, r])).values(),
          ].map((r) => ({ category: r.category, details: r.details, url: r.url })),
        })),
        products: a.products.map((p) => ({
          name: p.fullName,
          version: p.versionText,
          orderNumbers: p.orderNumbers,
        })),
        plant,
      };
    },
  );
};
