import { useApi } from '../useApi';
import { siteLabel, siteParam, when, type Detection, type Page } from '../api';

/**
 * Detections one fleet site (or every site) sent to the manager (the site filter's detections page). Read-only here: the site
 * acts on its own detections; the manager keeps copies.
 */
export function SiteDetections({ site }: { site: string }) {
  const { data, error } = useApi<Page<Detection & { site: string }>>(
    `/detections?limit=200${siteParam(site)}`,
  );
  return (
    <section>
      <h1>Detections at {siteLabel(site)}</h1>
      {data && (
        <p>
          {data.total} detections sent by {siteLabel(site)} (acted on at the site)
        </p>
      )}
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="detections">
          <thead>
            <tr>
              <th>site</th>
              <th>first seen</th>
              <th>severity</th>
              <th>type</th>
              <th>source → destination</th>
              <th>zone</th>
              <th>explanation</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((d, i) => (
              <tr key={`${d.id ?? ''}-${i}`}>
                <td>{d.site}</td>
                <td>{typeof d.ts === 'number' ? when(d.ts) : ''}</td>
                <td className={`sev ${d.severity}`}>{d.severity}</td>
                <td>{d.type}</td>
                <td>
                  {d.src} → {d.dst}
                </td>
                <td>{d.zone ?? ''}</td>
                <td>{d.explanation}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
