import { useApi } from '../useApi';
import { siteHref, siteLabel } from '../api';
import { ZonesUnknown } from './ZonesUnknown';

interface Factor {
  value: number;
  why: string;
}
/** With a site chosen every row also names its site. */
interface Sited {
  site?: string;
}
interface AssetRisk extends Sited {
  assetId: string;
  addresses: string[];
  role: string;
  zone: string | null;
  score: number;
  consequence: Factor;
  exposure: Factor;
  vulnerability: Factor;
  detection: Factor;
}
interface RiskReport {
  policy?: string | null;
  /** Site view: sites whose zones the manager does not know, and how many advisories this server holds. */
  zonesUnknown?: string[];
  advisories?: number;
  exposure: {
    targets: number;
    paths: Array<Sited & { summary: string; sourceTrust: number; target: string }>;
  };
  risk: { assets: AssetRisk[]; zones: Array<Sited & { zone: string; score: number; why: string }> };
  patchPlan: Array<
    Sited & {
      assetId: string;
      addresses: string[];
      zone: string | null;
      risk: number;
      advisories: string[];
      note: string;
      interrupts: string[];
    }
  >;
}

/**
 * Risk per asset and zone with its factors, the write-capable paths into controllers, the patch plan. With a
 * site chosen: each site's assets scored by the same code on the site's own data, with a site column.
 */
export function Risk({ site = '' }: { site?: string }) {
  const { data, error } = useApi<RiskReport>(
    `/risk${site ? `?site=${encodeURIComponent(site)}` : ''}`,
  );
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const at = (s?: string) => (site && s ? `${s}: ` : '');
  const assetHref = (id: string, s?: string) =>
    site && s ? siteHref(s, 'assets', id) : `#/assets/${encodeURIComponent(id)}`;
  return (
    <section>
      <h1>Risk{site ? ` at ${siteLabel(site)}` : ''}</h1>
      {site && <ZonesUnknown sites={data.zonesUnknown ?? []} what="risk is scored" />}
      {site && data.advisories === 0 && (
        <p className="small">No advisories on this server: the vulnerability factor is 0.</p>
      )}
      <table data-testid="risk-assets">
        <thead>
          <tr>
            {site && <th>site</th>}
            <th>risk</th>
            <th>asset</th>
            <th>zone</th>
            <th>consequence</th>
            <th>exposure</th>
            <th>vulnerability</th>
            <th>detections</th>
          </tr>
        </thead>
        <tbody>
          {data.risk.assets
            .filter((a) => a.score > 0)
            .map((a) => (
              <tr key={`${a.site ?? ''}/${a.assetId}`}>
                {site && <td>{a.site}</td>}
                <td>
                  <strong>{a.score}</strong>
                </td>
                <td>
                  <a href={assetHref(a.assetId, a.site)}>{a.addresses[0] ?? a.assetId}</a>{' '}
                  <span className="muted">{a.role.replace(/_/g, ' ')}</span>
                </td>
                <td>{a.zone ?? '—'}</td>
                <td className="why">{a.consequence.why}</td>
                <td className="why">{a.exposure.why}</td>
                <td className="why">{a.vulnerability.why}</td>
                <td className="why">{a.detection.why}</td>
              </tr>
            ))}
        </tbody>
      </table>
      {(!site || data.risk.zones.length > 0) && (
        <>
          <h2>Zones</h2>
          <ul data-testid="risk-zones">
            {data.risk.zones.map((z) => (
              <li key={`${z.site ?? ''}/${z.zone}`}>
                {at(z.site)}
                <strong>{z.zone}</strong> {z.score}: {z.why}
              </li>
            ))}
          </ul>
        </>
      )}
      <h2>
        Write-capable paths into {data.exposure.targets} PLCs/RTUs ({data.exposure.paths.length})
      </h2>
      <ol data-testid="exposure-paths">
        {data.exposure.paths.map((p, i) => (
          <li key={i} className={p.sourceTrust <= 0 ? 'bad' : ''}>
            {at(p.site)}
            {p.summary}
          </li>
        ))}
      </ol>
      <h2>Patch plan</h2>
      {data.patchPlan.length === 0 ? (
        <p>Nothing to patch: no imported advisory applies to an asset.</p>
      ) : (
        <ol data-testid="patch-plan">
          {data.patchPlan.map((s) => (
            <li key={`${s.site ?? ''}/${s.assetId}`}>
              {at(s.site)}
              {s.addresses[0]} {s.zone ? `(zone ${s.zone})` : ''}, risk {s.risk}:{' '}
              {s.advisories.join(', ')} — {s.note}. A restart interrupts:{' '}
              {s.interrupts.length ? s.interrupts.join('; ') : 'nothing observed'}.
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
