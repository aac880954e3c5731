import { useApi } from '../useApi';
import { siteHref, siteLabel, siteParam } from '../api';
import { ZonesUnknown } from './ZonesUnknown';

interface Factor {
  value: number;
  why: string;
}
interface SiteRiskReport {
  advisories: number;
  zonesUnknown: string[];
  exposure: {
    targets: number;
    paths: Array<{ site: string; summary: string; sourceTrust: number; target: string }>;
  };
  risk: {
    assets: Array<{
      site: string;
      assetId: string;
      addresses: string[];
      role: string;
      zone: string | null;
      score: number;
      consequence: Factor;
      exposure: Factor;
      vulnerability: Factor;
      detection: Factor;
    }>;
    zones: Array<{ site: string; zone: string; score: number; why: string }>;
  };
  patchPlan: Array<{
    site: string;
    assetId: string;
    addresses: string[];
    risk: number;
    advisories: string[];
    note: string;
    interrupts: string[];
  }>;
}

/** Risk per site asset, scored as on this server's own risk page, with a site column. */
export function SiteRisk({ site }: { site: string }) {
  const { data, error } = useApi<SiteRiskReport>(`/risk?${siteParam(site).slice(1)}`);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  return (
    <section>
      <h1>Risk at {siteLabel(site)}</h1>
      <ZonesUnknown sites={data.zonesUnknown} what="risk is scored" />
      {data.advisories === 0 && (
        <p className="small">No advisories on this server: the vulnerability factor is 0.</p>
      )}
      <table data-testid="risk-assets">
        <thead>
          <tr>
            <th>site</th>
            <th>risk</th>
            <th>asset</th>
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
              <tr key={`${a.site}/${a.assetId}`}>
                <td>{a.site}</td>
                <td>
                  <strong>{a.score}</strong>
                </td>
                <td>
                  <a href={siteHref(a.site, 'assets', a.assetId)}>{a.addresses[0] ?? a.assetId}</a>{' '}
                  <span className="muted">{a.role.replace(/_/g, ' ')}</span>
                </td>
                <td className="why">{a.consequence.why}</td>
                <td className="why">{a.exposure.why}</td>
                <td className="why">{a.vulnerability.why}</td>
                <td className="why">{a.detection.why}</td>
              </tr>
            ))}
        </tbody>
      </table>
      {data.risk.zones.length > 0 && (
        <>
          <h2>Zones</h2>
          <ul data-testid="risk-zones">
            {data.risk.zones.map((z) => (
              <li key={`${z.site}/${z.zone}`}>
                {z.site}: <strong>{z.zone}</strong> {z.score}: {z.why}
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
            {p.site}: {p.summary}
          </li>
        ))}
      </ol>
      <h2>Patch plan</h2>
      {data.patchPlan.length === 0 ? (
        <p>
          Nothing to patch: no advisory on this server applies to an asset of {siteLabel(site)}.
        </p>
      ) : (
        <ol data-testid="patch-plan">
          {data.patchPlan.map((s) => (
            <li key={`${s.site}/${s.assetId}`}>
              {s.site} {s.addresses[0]}, risk {s.risk}: {s.advisories.join(', ')} — {s.note}. A
              restart interrupts:{' '}
              {s.interrupts.length ? s.interrupts.join('; ') : 'nothing observed'}.
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
