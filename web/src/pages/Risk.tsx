import { useApi } from '../useApi';

interface Factor {
  value: number;
  why: string;
}
interface AssetRisk {
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
  policy: string | null;
  exposure: {
    targets: number;
    paths: Array<{ summary: string; sourceTrust: number; target: string }>;
  };
  risk: { assets: AssetRisk[]; zones: Array<{ zone: string; score: number; why: string }> };
  patchPlan: Array<{
    assetId: string;
    addresses: string[];
    zone: string | null;
    risk: number;
    advisories: string[];
    note: string;
    interrupts: string[];
  }>;
}

/** Risk per asset and zone with its factors, the write-capable paths into controllers, the patch plan. */
export function Risk() {
  const { data, error } = useApi<RiskReport>('/risk');
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  return (
    <section>
      <h1>Risk</h1>
      <table data-testid="risk-assets">
        <thead>
          <tr>
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
              <tr key={a.assetId}>
                <td>
                  <strong>{a.score}</strong>
                </td>
                <td>
                  <a href={`#/assets/${encodeURIComponent(a.assetId)}`}>{a.addresses[0]}</a>{' '}
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
      <h2>Zones</h2>
      <ul data-testid="risk-zones">
        {data.risk.zones.map((z) => (
          <li key={z.zone}>
            <strong>{z.zone}</strong> {z.score}: {z.why}
          </li>
        ))}
      </ul>
      <h2>
        Write-capable paths into {data.exposure.targets} PLCs/RTUs ({data.exposure.paths.length})
      </h2>
      <ol data-testid="exposure-paths">
        {data.exposure.paths.map((p, i) => (
          <li key={i} className={p.sourceTrust <= 0 ? 'bad' : ''}>
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
            <li key={s.assetId}>
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
