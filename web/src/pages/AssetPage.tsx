import { useApi } from '../useApi';
import { siteHref, when, type Asset, type Detection, type Edge } from '../api';
import { AssetVulnerabilities } from './Vulnerabilities';

/**
 * One asset: this server's, or with `site` that site's as the manager holds it (ids are per site, so the
 * address bar names the site: #/sites/NAME/assets/ID).
 */
export function AssetPage({ id, site = '' }: { id: string; site?: string }) {
  const { data, error } = useApi<{
    asset: Asset;
    edges: Edge[];
    detections: Array<Pick<Detection, 'id' | 'severity' | 'ts' | 'type' | 'explanation'>>;
  }>(`/assets/${encodeURIComponent(id)}${site ? `?site=${encodeURIComponent(site)}` : ''}`);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const a = data.asset;
  const end = (ip: string) => (site ? <a href={siteHref(site, 'assets', ip)}>{ip}</a> : ip);
  return (
    <section>
      {site && (
        <p>
          <a href="#/assets">← Assets</a>
        </p>
      )}
      <h1 data-testid="asset-title">
        {a.hostnames[0] ?? a.ips[0] ?? a.id}{' '}
        <small>
          {a.role}
          {a.zone ? ` · zone ${a.zone}` : ''}
          {site ? ` · site ${site}` : ''}
        </small>
      </h1>
      <table className="facts">
        <tbody>
          <tr>
            <th>addresses</th>
            <td>{a.ips.join(', ')}</td>
          </tr>
          <tr>
            <th>MAC</th>
            <td>
              {a.mac ?? ''} {a.macVendor ? `(${a.macVendor})` : ''}
            </td>
          </tr>
          {Object.entries(a.identity)
            .filter(([, v]) => v)
            .map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{v}</td>
              </tr>
            ))}
          <tr>
            <th>why this role</th>
            <td>{a.roleReasons.join('; ')}</td>
          </tr>
          <tr>
            <th>seen</th>
            <td>
              {when(a.firstSeen)} – {when(a.lastSeen)}
            </td>
          </tr>
        </tbody>
      </table>
      <AssetVulnerabilities id={a.id} site={site} />
      <h2>Communication ({data.edges.length})</h2>
      <table data-testid="asset-edges">
        <thead>
          <tr>
            <th>client</th>
            <th>server</th>
            <th>protocol</th>
            <th>port</th>
            <th>packets</th>
            <th>functions</th>
          </tr>
        </thead>
        <tbody>
          {data.edges.map((e) => (
            <tr key={e.id}>
              <td>{end(e.client)}</td>
              <td>{end(e.server)}</td>
              <td>{e.protocol}</td>
              <td>
                {e.transport}/{e.port}
              </td>
              <td>{e.packets}</td>
              <td>
                {(e.functions ?? [])
                  .filter((f) => f.func >= 0)
                  .slice(0, 6)
                  .map((f) => `${f.name || f.func}×${f.count}`)
                  .join(' ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>
        {site ? 'Detections the site sent' : 'Detections'} ({data.detections.length})
      </h2>
      <ul data-testid="asset-detections">
        {data.detections.map((d, i) => (
          <li key={`${d.id}-${i}`}>
            <span className={`sev ${d.severity}`}>{d.severity}</span> {when(d.ts)} {d.type}:{' '}
            {d.explanation}
          </li>
        ))}
      </ul>
    </section>
  );
}
