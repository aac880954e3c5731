import { useApi } from '../useApi';
import { siteLabel, siteParam } from '../api';

interface SiteSummary {
  site: string;
  assets: number;
  edges: number;
  incidents: { open: number; total: number };
  detections: number;
  audit: { status: string; entries: number; problems: number };
  refused: number;
}

/** The overview with a site chosen: what the manager holds of each site, its audit chain, what it refused. */
export function SiteOverview({ site }: { site: string }) {
  const { data, error } = useApi<{
    sites: SiteSummary[];
    refused: Array<{ site: string; kind: string; reason: string; n: number }>;
  }>(`/overview?${siteParam(site).slice(1)}`);
  return (
    <section>
      <h1>Overview of {siteLabel(site)}</h1>
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="site-overview">
          <thead>
            <tr>
              <th>site</th>
              <th>assets</th>
              <th>connections</th>
              <th>incidents (open)</th>
              <th>detections</th>
              <th>audit chain</th>
              <th>records refused</th>
            </tr>
          </thead>
          <tbody>
            {data.sites.map((s) => (
              <tr key={s.site} data-site={s.site}>
                <td>{s.site}</td>
                <td>{s.assets}</td>
                <td>{s.edges}</td>
                <td>
                  {s.incidents.total} ({s.incidents.open} open)
                </td>
                <td>{s.detections}</td>
                <td className={s.audit.status === 'intact' ? 'ok' : 'bad'}>
                  {s.audit.status}, {s.audit.entries} entries
                  {s.audit.problems ? `, ${s.audit.problems} problems` : ''}
                </td>
                <td>{s.refused}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.refused.length > 0 && (
        <>
          <h2>Refused records</h2>
          <ul data-testid="refused">
            {data.refused.map((r) => (
              <li key={`${r.site}/${r.kind}/${r.reason}`}>
                {r.site} {r.kind}: {r.reason} ×{r.n}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
