import { useState } from 'react';
import { useApi } from '../useApi';
import { siteHref, siteLabel, siteParam } from '../api';
import { CvssCell, Head, plural, type AssetVulns, type Impact } from './Vulnerabilities';
import { ZonesUnknown } from './ZonesUnknown';

interface SiteReport {
  minConfidence: string;
  zonesUnknown: string[];
  assets: Array<AssetVulns & { site: string }>;
  byAdvisory: Array<
    Omit<Impact, 'assets'> & { assets: Array<Impact['assets'][number] & { site: string }> }
  >;
}

/** One site's (or every site's) assets matched against this server's advisories, with a site column. */
export function SiteVulnerabilities({ site }: { site: string }) {
  const [min, setMin] = useState('family');
  const { data, error } = useApi<{ imported: number; report: SiteReport | null }>(
    `/vulnerabilities?minConfidence=${min}${siteParam(site)}`,
  );
  return (
    <section>
      <h1>Vulnerabilities at {siteLabel(site)}</h1>
      {error && <p className="error">{error}</p>}
      {data && data.imported === 0 && (
        <p data-testid="no-advisories">
          No advisories imported on this server: the sites' assets are matched against the
          advisories here (<code>weir advisories import PATH --db STORE</code>).
        </p>
      )}
      {data?.report && (
        <>
          <p data-testid="vuln-summary">
            {plural(data.report.assets.length, 'vulnerable asset')},{' '}
            {plural(data.report.byAdvisory.length, 'advisory', 'advisories')} apply (of{' '}
            {data.imported} imported on this server).
          </p>
          <ZonesUnknown sites={data.report.zonesUnknown} what="assets are listed" />
          <p>
            <label>
              Show{' '}
              <select value={min} onChange={(e) => setMin(e.target.value)} aria-label="confidence">
                <option value="exact">exact matches</option>
                <option value="family">exact and family matches</option>
                <option value="possible">all, with possible matches</option>
              </select>
            </label>
          </p>
          <table data-testid="site-vulns">
            <Head
              cols={['site', 'asset', 'product', 'firmware', 'worst CVSS', 'advisories', 'fix']}
            />
            <tbody>
              {data.report.assets.map((a) => (
                <tr key={`${a.site}/${a.assetId}`}>
                  <td>{a.site}</td>
                  <td>
                    <a href={siteHref(a.site, 'assets', a.assetId)}>
                      {a.addresses[0] ?? a.assetId}
                    </a>
                  </td>
                  <td>{[a.vendor, a.model].filter(Boolean).join(' ')}</td>
                  <td>{a.firmware ?? ''}</td>
                  <CvssCell cvss={a.worstCvss} />
                  <td>{a.findings.map((f) => `${f.advisoryId} (${f.confidence})`).join(', ')}</td>
                  <td>{a.fixAvailable ? 'vendor fix' : 'mitigations only'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>By advisory</h2>
          <table data-testid="site-advisories">
            <Head cols={['advisory', 'CVSS', 'assets']} />
            <tbody>
              {data.report.byAdvisory.map((a) => (
                <tr key={a.advisoryId}>
                  <td>
                    <a href={`#/vulnerabilities/${encodeURIComponent(a.advisoryId)}`}>
                      {a.advisoryId}
                    </a>
                    <div className="muted">{a.title}</div>
                  </td>
                  <CvssCell cvss={a.cvss} />
                  <td>{a.assets.map((x) => `${x.site} ${x.assetId}`).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
