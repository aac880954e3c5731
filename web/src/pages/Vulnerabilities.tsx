import { useState } from 'react';
import { useApi } from '../useApi';
import { siteHref } from '../api';

export interface Cvss {
  score: number;
  severity: string;
  vector: string;
}
interface PatchWindow {
  name: string;
  when: string;
  nextStart: string | null;
}
export interface Finding {
  advisoryId: string;
  title: string;
  confidence: 'exact' | 'family' | 'possible';
  reason: string;
  product: string;
  cves: string[];
  cvss: Cvss | null;
  fixAvailable: boolean;
  window: PatchWindow | null;
  windowNote: string;
}
export interface AssetVulns {
  assetId: string;
  addresses: string[];
  zone: string | null;
  vendor: string | null;
  model: string | null;
  firmware: string | null;
  findings: Finding[];
  worstCvss: Cvss | null;
  fixAvailable: boolean;
}
export interface Impact {
  advisoryId: string;
  title: string;
  cves: string[];
  cvss: Cvss | null;
  fixAvailable: boolean;
  assets: Array<{ assetId: string; confidence: string; product: string; zone: string | null }>;
}
interface Report {
  advisories: number;
  minConfidence: string;
  maintenanceWindows: PatchWindow[];
  assets: AssetVulns[];
  byAdvisory: Impact[];
}
interface AdvisoryDetail {
  id: string;
  title: string;
  currentRelease: string | null;
  vulnerabilities: Array<{
    cve: string | null;
    cwe: string | null;
    cvss: Cvss | null;
    remediations: Array<{ category: string; details: string; url: string | null }>;
  }>;
  plant: Array<{
    site?: string;
    assetId: string;
    confidence: string;
    reason: string;
    product: string;
    fixAvailable: boolean;
    windowNote: string;
  }>;
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
export const score = (c: Cvss | null) =>
  c ? `${c.score.toFixed(1)} ${c.severity.toLowerCase()}` : '—';
export const sev = (c: Cvss | null) =>
  !c ? '' : c.score >= 9 ? 'critical' : c.score >= 7 ? 'high' : c.score >= 4 ? 'medium' : 'low';

export const Head = ({ cols }: { cols: string[] }) => (
  <thead>
    <tr>
      {cols.map((c) => (
        <th key={c}>{c}</th>
      ))}
    </tr>
  </thead>
);

const AdvisoryCell = ({ id, title }: { id: string; title: string }) => (
  <td>
    <a href={`#/vulnerabilities/${encodeURIComponent(id)}`}>{id}</a>
    <div className="muted">{title}</div>
  </td>
);

export const CvssCell = ({ cvss }: { cvss: Cvss | null }) => (
  <td className={`sev-${sev(cvss)}`}>{score(cvss)}</td>
);

export const WhyCell = ({ finding }: { finding: Finding }) => (
  <td className="why">
    {finding.cves.join(', ')}: {finding.reason}
  </td>
);

/** Vulnerable assets and the advisories behind them: per asset, per advisory, and one advisory in full. */
export function Vulnerabilities({ advisory, site = '' }: { advisory?: string; site?: string }) {
  const [min, setMin] = useState('family');
  const [view, setView] = useState<'assets' | 'advisories'>('assets');
  const { data, error } = useApi<{ imported: number; report: Report | null }>(
    `/vulnerabilities?minConfidence=${min}`,
  );
  if (advisory) return <Advisory id={advisory} site={site} />;
  return (
    <section>
      <h1>Vulnerabilities</h1>
      {error && <p className="error">{error}</p>}
      {data && data.imported === 0 && (
        <p data-testid="no-advisories">
          No advisories imported yet: <code>weir advisories import PATH --db STORE</code> (a CSAF
          archive, a folder of CSAF files, or a signed bundle).
        </p>
      )}
      {data?.report && (
        <>
          <p data-testid="vuln-summary">
            {plural(data.report.assets.length, 'vulnerable asset')},{' '}
            {plural(data.report.byAdvisory.length, 'advisory', 'advisories')} apply (of{' '}
            {data.report.advisories} imported).{' '}
            {data.report.maintenanceWindows.length > 0
              ? `Maintenance windows: ${data.report.maintenanceWindows
                  .map(
                    (w) =>
                      `${w.name} (${w.when}${w.nextStart ? `, next ${w.nextStart.slice(0, 16).replace('T', ' ')} UTC` : ''})`,
                  )
                  .join('; ')}.`
              : 'The active policy names no maintenance window.'}
          </p>
          <p>
            <label>
              Show{' '}
              <select
                value={min}
                onChange={(e) => setMin(e.target.value)}
                data-testid="min-confidence"
              >
                <option value="exact">exact matches only</option>
                <option value="family">exact and family matches</option>
                <option value="possible">also possible matches (firmware unknown)</option>
              </select>
            </label>{' '}
            <button onClick={() => setView(view === 'assets' ? 'advisories' : 'assets')}>
              {view === 'assets' ? 'Group by advisory' : 'Group by asset'}
            </button>
          </p>
          {view === 'assets' ? (
            <ByAsset report={data.report} />
          ) : (
            <ByAdvisory report={data.report} />
          )}
        </>
      )}
    </section>
  );
}

function ByAsset({ report }: { report: Report }) {
  return (
    <table data-testid="vulns-by-asset">
      <Head
        cols={[
          'asset',
          'zone',
          'identity',
          'advisory',
          'CVSS',
          'confidence',
          'fix',
          'window',
          'why',
        ]}
      />
      <tbody>
        {report.assets.flatMap((a) =>
          a.findings.map((f, i) => (
            <tr key={`${a.assetId}/${f.advisoryId}`}>
              <td>
                {i === 0 ? (
                  <a href={`#/assets/${encodeURIComponent(a.assetId)}`}>{a.addresses.join(' ')}</a>
                ) : (
                  ''
                )}
              </td>
              <td>{i === 0 ? (a.zone ?? '—') : ''}</td>
              <td>{i === 0 ? [a.vendor, a.model, a.firmware].filter(Boolean).join(' ') : ''}</td>
              <AdvisoryCell id={f.advisoryId} title={f.title} />
              <CvssCell cvss={f.cvss} />
              <td>{f.confidence}</td>
              <td>{f.fixAvailable ? 'yes' : 'no'}</td>
              <td>{f.window ? f.window.name : f.windowNote}</td>
              <WhyCell finding={f} />
            </tr>
          )),
        )}
      </tbody>
    </table>
  );
}

function ByAdvisory({ report }: { report: Report }) {
  return (
    <table data-testid="vulns-by-advisory">
      <Head cols={['advisory', 'CVSS', 'CVEs', 'fix', 'assets']} />
      <tbody>
        {report.byAdvisory.map((a) => (
          <tr key={a.advisoryId}>
            <AdvisoryCell id={a.advisoryId} title={a.title} />
            <CvssCell cvss={a.cvss} />
            <td>{a.cves.join(', ')}</td>
            <td>{a.fixAvailable ? 'yes' : 'no'}</td>
            <td>
              {a.assets
                .map((x) => `${x.assetId}${x.zone ? ` (${x.zone})` : ''} ${x.confidence}`)
                .join('; ')}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An advisory and the assets it concerns: this server's, or with a site chosen that site's (every site's for *). */
function Advisory({ id, site }: { id: string; site: string }) {
  const { data, error } = useApi<AdvisoryDetail>(
    `/advisories/${encodeURIComponent(id)}${site ? `?site=${encodeURIComponent(site)}` : ''}`,
  );
  return (
    <section>
      <p>
        <a href="#/vulnerabilities">← Vulnerabilities</a>
      </p>
      {error && <p className="error">{error}</p>}
      {data && (
        <>
          <h1 data-testid="advisory-title">
            {data.id}: {data.title}
          </h1>
          <p className="muted">Current release {data.currentRelease?.slice(0, 10) ?? 'unknown'}</p>
          <h2>
            {site === '' ? 'In this plant' : site === '*' ? 'At all sites' : `At site ${site}`}
          </h2>
          {data.plant.length === 0 ? (
            <p>No asset of the inventory matches this advisory.</p>
          ) : (
            <table data-testid="advisory-plant">
              <Head
                cols={[
                  ...(site ? ['site'] : []),
                  'asset',
                  'confidence',
                  'product named',
                  'fix / window',
                  'why',
                ]}
              />
              <tbody>
                {data.plant.map((p) => (
                  <tr key={`${p.site ?? ''}/${p.assetId}`}>
                    {p.site !== undefined && <td>{p.site}</td>}
                    <td>
                      <a
                        href={
                          p.site !== undefined
                            ? siteHref(p.site, 'assets', p.assetId)
                            : `#/assets/${encodeURIComponent(p.assetId)}`
                        }
                      >
                        {p.assetId}
                      </a>
                    </td>
                    <td>{p.confidence}</td>
                    <td>{p.product}</td>
                    <td>{p.windowNote}</td>
                    <td className="why">{p.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Vulnerabilities and remediations</h2>
          {data.vulnerabilities.map((v, i) => (
            <div key={`${v.cve}-${i}`} className="card">
              <h3>
                {v.cve ?? 'no CVE'} {v.cwe ? `(${v.cwe})` : ''} — CVSS {score(v.cvss)}
              </h3>
              {v.cvss && <code>{v.cvss.vector}</code>}
              <ul>
                {v.remediations.map((r, j) => (
                  <li key={j}>
                    <strong>{r.category.replace(/_/g, ' ')}</strong>: {r.details}{' '}
                    {r.url && (
                      <a href={r.url} rel="noreferrer noopener" target="_blank">
                        {r.url}
                      </a>
                    )}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </>
      )}
    </section>
  );
}

/** The vulnerabilities of one asset, for its page. */
export function AssetVulnerabilities({ id, site = '' }: { id: string; site?: string }) {
  const { data } = useApi<{
    vulnerabilities: AssetVulns | null;
    maintenanceWindows: PatchWindow[];
  }>(
    `/vulnerabilities/assets/${encodeURIComponent(id)}${site ? `?site=${encodeURIComponent(site)}` : ''}`,
  );
  if (!data) return null;
  const v = data.vulnerabilities;
  return (
    <>
      <h2>Vulnerabilities ({v?.findings.length ?? 0})</h2>
      {!v ? (
        <p data-testid="asset-vulns-none">No imported advisory matches this asset's identity.</p>
      ) : (
        <table data-testid="asset-vulns">
          <Head cols={['advisory', 'CVSS', 'confidence', 'fix / window', 'why']} />
          <tbody>
            {v.findings.map((f) => (
              <tr key={f.advisoryId}>
                <AdvisoryCell id={f.advisoryId} title={f.title} />
                <CvssCell cvss={f.cvss} />
                <td>{f.confidence}</td>
                <td>{f.fixAvailable ? f.windowNote : 'no vendor fix: apply the mitigations'}</td>
                <WhyCell finding={f} />
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
