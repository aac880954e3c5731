import { useEffect, useState, type ComponentType } from 'react';
import { api, type FleetView, type Me } from './api';
import { useLive } from './useLive';
import { CaptureLine } from './CaptureLine';
import { Login } from './pages/Login';
import { Overview } from './pages/Overview';
import { Assets } from './pages/Assets';
import { AssetPage } from './pages/AssetPage';
import { MapPage } from './pages/MapPage';
import { Flows } from './pages/Flows';
import { Detections } from './pages/Detections';
import { IncidentPage, Incidents } from './pages/Incidents';
import { PolicyPage } from './pages/PolicyPage';
import { Approvals } from './pages/Approvals';
import { Audit } from './pages/Audit';
import { Vulnerabilities } from './pages/Vulnerabilities';
import { Risk } from './pages/Risk';
import { Playbooks } from './pages/Playbooks';
import { Sites } from './pages/Sites';
import { SiteDetections } from './pages/SiteDetections';
import { SiteOverview } from './pages/SiteOverview';
import { SiteFlows } from './pages/SiteFlows';
import { SiteVulnerabilities } from './pages/SiteVulnerabilities';
import { SiteApprovals, SitePlaybooks, SitePolicy } from './pages/SitePolicy';

const PAGES: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['assets', 'Assets'],
  ['map', 'Network map'],
  ['flows', 'Flows'],
  ['incidents', 'Incidents'],
  ['detections', 'Detections'],
  ['vulnerabilities', 'Vulnerabilities'],
  ['risk', 'Risk'],
  ['policy', 'Policy'],
  ['approvals', 'Approvals'],
  ['playbooks', 'Playbooks'],
  ['audit', 'Audit log'],
  ['sites', 'Sites'],
];

/** Pages whose data the manager aggregates from sites; the others show this server's own data only. */
const SITE_PAGES = new Set([
  'overview',
  'assets',
  'map',
  'flows',
  'incidents',
  'detections',
  'vulnerabilities',
  'risk',
  'audit',
  'sites',
  'policy',
  'approvals',
  'playbooks',
]);

/** Pages of the site filter that show the site's copy in a page of their own. */
const SITE_VIEWS: Record<string, ComponentType<{ site: string }>> = {
  detections: SiteDetections,
  overview: SiteOverview,
  flows: SiteFlows,
  vulnerabilities: SiteVulnerabilities,
  risk: Risk,
};

/** Hash routes (#/assets/10.0.0.5): the server serves one page, the browser keeps the place. */
function useRoute(): string[] {
  const read = (): string[] =>
    window.location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent).filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const f = () => setRoute(read());
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return route;
}

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const route = useRoute();
  const live = useLive(Boolean(me));
  const [sites, setSites] = useState<string[]>([]);
  const [site, setSite] = useState('');
  useEffect(() => {
    api<Me>('/me').then(setMe, () => setMe(null));
  }, []);
  useEffect(() => {
    if (me)
      api<FleetView>('/sites').then(
        (f) => setSites(f.fleet ? f.sites.map((s) => s.name) : []),
        () => setSites([]),
      );
  }, [me]);
  useEffect(() => {
    const f = () => setMe(null);
    window.addEventListener('weir:logged-out', f);
    return () => window.removeEventListener('weir:logged-out', f);
  }, []);
  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null) return <Login onLogin={setMe} />;
  const [page = 'overview', arg, what, id] = route;
  // #/sites/NAME/assets/ID and #/sites/NAME/incidents/ID: a site's own detail pages (ids are per site).
  const siteDetail = page === 'sites' && arg && id && (what === 'assets' || what === 'incidents');
  const SiteView = site !== '' && !arg ? SITE_VIEWS[page] : undefined;
  const logout = async () => {
    await api('/session', { method: 'DELETE' });
    setMe(null);
  };
  return (
    <div className="shell">
      <nav>
        <strong className="brand">Weir</strong>
        {PAGES.map(([id, label]) => (
          <a key={id} href={`#/${id}`} className={page === id ? 'active' : ''}>
            {label}
          </a>
        ))}
        {live.stats && (
          <span className="live" data-testid="live">
            {live.endError !== null
              ? `capture stopped (${live.endError})`
              : live.ended
                ? 'capture finished'
                : '● live'}
            : {live.stats.packets.toLocaleString()} packets, {live.stats.assets} assets,{' '}
            {live.stats.detections} new detections
            {live.lastDetection ? ` — last: ${live.lastDetection}` : ''}
            {live.stats.capture && (
              <>
                {' — via '}
                <CaptureLine capture={live.stats.capture} />
              </>
            )}
          </span>
        )}
        {sites.length > 0 && (
          <select
            aria-label="site"
            data-testid="site-filter"
            value={site}
            onChange={(e) => setSite(e.target.value)}
          >
            <option value="">this server</option>
            <option value="*">all sites</option>
            {sites.map((n) => (
              <option key={n} value={n}>
                site {n}
              </option>
            ))}
          </select>
        )}
        <span className="who">
          {me.name} ({me.roles.join(', ')}) <button onClick={logout}>Log out</button>
        </span>
      </nav>
      <main>
        {siteDetail ? (
          what === 'assets' ? (
            <AssetPage site={arg} id={id} />
          ) : (
            <IncidentPage me={me} site={arg} id={id} />
          )
        ) : site !== '' && (!SITE_PAGES.has(page) || (arg && page !== 'vulnerabilities')) ? (
          <p className="notice" data-testid="not-aggregated">
            {site === '*' ? 'All sites' : `Site ${site}`}: the manager does not aggregate{' '}
            {arg
              ? `this ${page === 'assets' ? 'asset' : page === 'incidents' ? 'incident' : page === 'vulnerabilities' ? 'advisory' : page}'s detail page`
              : `the ${page} page`}{' '}
            from sites. Choose &quot;this server&quot; to see this server's own.
          </p>
        ) : SiteView ? (
          <SiteView site={site} />
        ) : (
          <>
            {page === 'overview' && <Overview />}
            {page === 'assets' && (arg ? <AssetPage id={arg} /> : <Assets site={site} />)}
            {page === 'map' && <MapPage site={site} />}
            {page === 'flows' && <Flows />}
            {page === 'incidents' && <Incidents me={me} id={arg} site={site} />}
            {page === 'detections' && <Detections me={me} />}
            {page === 'sites' && <Sites />}
            {page === 'vulnerabilities' && <Vulnerabilities advisory={arg} site={site} />}
            {page === 'risk' && <Risk />}
            {page === 'policy' && (site ? <SitePolicy site={site} /> : <PolicyPage />)}
            {page === 'approvals' && (site ? <SiteApprovals site={site} /> : <Approvals me={me} />)}
            {page === 'playbooks' && (site ? <SitePlaybooks site={site} /> : <Playbooks me={me} />)}
            {page === 'audit' && <Audit site={site} />}
          </>
        )}
      </main>
    </div>
  );
}
