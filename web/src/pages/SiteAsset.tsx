import { useApi } from '../useApi';
import { siteHref, when, type Asset, type Edge } from '../api';
import { AssetVulnerabilities } from './Vulnerabilities';

interface SiteAssetData {
  site: string;
  asset: Asset;
  edges: Edge[];
  detections: Array<{
    id: string;
    type: string;
    severity: string;
    ts: number;
    explanation: string;
    status: string;
  }>;
}

/** One site's asset as the manager holds it: the address bar names the site (ids are per site). */
export function SiteAsset({ site, id }: { site: string; id: string }) {
  const { data, error } = useApi<SiteAssetData>(
    `/assets/${encodeURIComponent(id)}?site=${encodeURIComponent(site)}`,
  );
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const a = data.asset;
  return (
    <section>
      <p>
        <a href="#/assets">← Assets</a>
      </p>
      <h1 data-testid="site-asset-title">
        {a.hostnames[0] ?? a.ips[0] ?? a.id}{' '}
        <small>
          {a.role} · site {data.site}
        </small>
      </h1>
      <table className="facts">
        <tbody>
          <tr>
            <th>site</th>
            <td>{data.site}</td>
          </tr>
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
      <AssetVulnerabilities id={a.id} site={data.site} />
      <h2>Communication ({data.edges.length})</h2>
      <table data-testid="asset-edges">
        <thead>
          <tr>
            <th>client</th>
            <th>server</th>
            <th>protocol</th>
            <th>port</th>
            <th>packets</th>
          </tr>
        </thead>
        <tbody>
          {data.edges.map((e) => (
            <tr key={e.id}>
              <td>
                <a href={siteHref(data.site, 'assets', e.client)}>{e.client}</a>
              </td>
              <td>
                <a href={siteHref(data.site, 'assets', e.server)}>{e.server}</a>
              </td>
              <td>{e.protocol}</td>
              <td>
                {e.transport}/{e.port}
              </td>
              <td>{e.packets}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Detections the site sent ({data.detections.length})</h2>
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
