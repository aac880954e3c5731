import type { RoutePlugin } from '../plugin.js';
import { getAdvisory, advisoryCount } from '../../store/advisory-store.js';
import { getAsset } from '../../store/read-store.js';
import { NotFound } from '../../respond/detection-actions.js';
import { advisoryIndexOf, vulnerabilityReport } from '../../assess/vuln-report.js';
import { fleetAssetVulnerabilities, fleetVulnerabilities } from '../../fleet/aggregate-pages.js';
import { ONE_SITE, SITE_FILTER, withSite } from '../fleet-read.js';
import { CONFIDENCE_RANK, type Confidence } from '../../assess/advisories/match.js';
import { params, query } from '../schemas.js';

const minConfidence = {
  minConfidence: { type: 'string', enum: ['exact', 'family', 'possible'], default: 'family' },
};
interface ConfidenceQuery {
  minConfidence: Confidence;
  site?: string;
}
const advisoryId = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' };
const assetId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9:._-]+$' };

/**
 * Vulnerabilities of the plant's assets from the imported advisories: reads only, any role. With a site: the
 * site's assets (or every site's, with a site column) matched against this server's advisories by the same code.
 */
export const vulnerabilityRoutes: RoutePlugin = async (app, { db, fleetDir }) => {
  app.get<{ Querystring: ConfidenceQuery }>(
    '/api/vulnerabilities',
    { schema: { querystring: query({ ...minConfidence, ...SITE_FILTER }) } },
    async (req) => {
      const { minConfidence, site } = req.query;
      const imported = advisoryCount(db);
      if (site !== undefined) {
        const report = withSite(fleetDir, site, null, (f) =>
          imported > 0
            ? fleetVulnerabilities(f, site, advisoryIndexOf(db), { minConfidence })
            : null,
        );
        return { imported, site, report };
      }
      return { imported, report: imported > 0 ? vulnerabilityReport(db, { minConfidence }) : null };
    },
  );

  app.get<{ Params: { id: string }; Querystring: ConfidenceQuery }>(
    '/api/vulnerabilities/assets/:id',
    {
      schema: {
        params: params({ id: assetId }),
        querystring: query({ ...minConfidence, ...ONE_SITE }),
      },
    },
    async (req) => {
      const { id } = req.params;
      const { minConfidence, site } = req.query;
      if (site !== undefined)
        return withSite(fleetDir, site, null, (f) => {
          const index = advisoryCount(db) > 0 ? advisoryIndexOf(db) : null;
          const r = fleetAssetVulnerabilities(f, site, id, index, { minConfidence });
          if (r === null) throw new NotFound(`no asset ${id} at site ${site}`);
          return { assetId: id, site, ...r };
        });
      if (getAsset(db, id) === null) throw new NotFound('no such asset');
      const r = advisoryCount(db) > 0 ? vulnerabilityReport(db, { minConfidence }) : null;
      return {
        assetId: id,
        maintenanceWindows: r?.maintenanceWindows ?? [],
        vulnerabilities: r?.assets.find((a) => a.assetId === id) ?? null,
      };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { site?: string } }>(
    '/api/advisories/:id',
    { schema: { params: params({ id: advisoryId }), querystring: query(SITE_FILTER) } },
    async (req) => {
      const { id } = req.params;
      const { site } = req.query;
      const a = getAdvisory(db, id);
      if (a === null) throw new NotFound('no such advisory');
      // With a site chosen, "in this plant" is that site's (or every site's) assets, matched by the same code.
      const assets =
        site === undefined
          ? vulnerabilityReport(db, { minConfidence: 'possible' }).assets
          : withSite(
              fleetDir,
              site,
              [],
              (f) =>
                fleetVulnerabilities(f, site, advisoryIndexOf(db), { minConfidence: 'possible' })
                  .assets,
            );
      const plant = assets.flatMap((x) =>
        x.findings
          .filter((f) => f.advisoryId === id)
          .map((f) => ({
            ...('site' in x ? { site: x.site } : {}),
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
