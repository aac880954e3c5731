import { siteLabel, siteParam, when } from '../api';
import { useApi } from '../useApi';

/** The manager shows a site's change control; it changes nothing of it. */
function ReadOnly({ what }: { what: string }) {
  return (
    <p className="notice" data-testid="read-only">
      Read-only: {what} at the site, on its own dashboard, where its change control and its
      approvers&apos; gates apply. The manager has no signed path to approve or undo for a site.
    </p>
  );
}

interface SitePolicyView {
  site: string;
  sha: string;
  source: string;
  text: string;
  version: number;
  appliedAt: string;
  received: number;
  namedSite: string;
  zones: Array<{
    name: string;
    mode: string;
    approvals: string[];
    members: string[];
    securityLevel: number | null;
    assets: number;
    playbooks: number;
  }>;
  conduits: Array<{ name: string; from: string; to: string }>;
  groups: number;
}

/** Each chosen site's active policy as it sent it: zones on their ladder, what each holds, conduits. */
export function SitePolicy({ site }: { site: string }) {
  const { data, error } = useApi<{ sites: SitePolicyView[] }>(
    `/policy?${siteParam(site).slice(1)}`,
  );
  return (
    <section>
      <h1>Policy at {siteLabel(site)}</h1>
      <ReadOnly what="policy changes and promotions are proposed and approved" />
      {error && <p className="error">{error}</p>}
      {data && data.sites.length === 0 && <p>No site has sent an active policy.</p>}
      {data?.sites.map((p) => (
        <div key={p.site} data-testid="site-policy" data-site={p.site}>
          <h2>Site {p.site}</h2>
          <p>
            Active: <code>{p.source}</code> ({p.sha.slice(0, 12)}), applied{' '}
            {p.appliedAt.slice(0, 19)}, record v{p.version}, received{' '}
            {new Date(p.received).toISOString().slice(0, 19)}; {p.zones.length} zones,{' '}
            {p.conduits.length} conduits, {p.groups} context groups.
            {p.namedSite && p.namedSite !== p.site && (
              <span className="bad"> The policy names itself site &quot;{p.namedSite}&quot;.</span>
            )}
          </p>
          <table data-testid="site-zones">
            <thead>
              <tr>
                <th>zone</th>
                <th>mode</th>
                <th>members</th>
                <th>assets held</th>
                <th>playbooks</th>
                <th>approved by</th>
              </tr>
            </thead>
            <tbody>
              {p.zones.map((z) => (
                <tr key={z.name}>
                  <td>{z.name}</td>
                  <td className={`mode ${z.mode}`}>{z.mode}</td>
                  <td>{z.members.join(', ')}</td>
                  <td>{z.assets}</td>
                  <td>{z.playbooks}</td>
                  <td>{z.approvals.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {p.conduits.length > 0 && (
            <p>Conduits: {p.conduits.map((c) => `${c.name} (${c.from} → ${c.to})`).join(', ')}</p>
          )}
          <details>
            <summary>policy file</summary>
            <pre>{p.text}</pre>
          </details>
        </div>
      ))}
      <p>Simulations are kept at each site.</p>
    </section>
  );
}

interface SiteProposal {
  site: string;
  id: number;
  kind: string;
  zone: string | null;
  status: string;
  createdBy: string;
  createdAt: string;
  note: string;
  requiredRoles: string[];
  approvals: Array<{ user: string; role: string }>;
  doc: Record<string, unknown>;
}

/** The chosen sites' change proposals and who approved them so far. */
export function SiteApprovals({ site }: { site: string }) {
  const { data, error } = useApi<{ items: SiteProposal[] }>(
    `/proposals?${siteParam(site).slice(1)}`,
  );
  return (
    <section>
      <h1>Approvals at {siteLabel(site)}</h1>
      <ReadOnly what="proposals are approved or rejected" />
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="site-proposals">
          <thead>
            <tr>
              <th>site</th>
              <th>#</th>
              <th>what</th>
              <th>zone</th>
              <th>by</th>
              <th>status</th>
              <th>needs</th>
              <th>approved</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((p) => (
              <tr key={`${p.site}/${p.id}`}>
                <td>{p.site}</td>
                <td>{p.id}</td>
                <td>
                  {p.kind}
                  {p.doc.to ? ` → ${String(p.doc.to)}` : ''} <small>{p.note}</small>
                </td>
                <td>{p.zone ?? ''}</td>
                <td>{p.createdBy}</td>
                <td>{p.status}</td>
                <td>{p.requiredRoles.join(', ')}</td>
                <td>{p.approvals.map((a) => `${a.user} (${a.role})`).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface SitePlaybook {
  site: string;
  zone: string;
  name: string;
  mode: string;
  on: string[];
  actions: string[];
  blockTtl: number;
  rateLimit: { max: number; per: number };
  approvals: string[];
}
interface SiteAction {
  site: string;
  id: string;
  at: number;
  zone: string;
  playbook: string;
  mode: string;
  kind: string;
  target: string;
  status: string;
  reason: string;
  detectionId: string;
  detectionType: string;
  undoneBy: string | null;
}

/** The chosen sites' pre-approved playbooks (from each one's policy) and what they did. */
export function SitePlaybooks({ site }: { site: string }) {
  const { data, error } = useApi<{
    policies: Array<{ site: string; policy: string }>;
    playbooks: SitePlaybook[];
    actions: SiteAction[];
  }>(`/playbooks?limit=200${siteParam(site)}`);
  return (
    <section>
      <h1>Playbooks at {siteLabel(site)}</h1>
      <ReadOnly what="a playbook's block is undone" />
      {error && <p className="error">{error}</p>}
      {data && (
        <>
          <p>
            {data.policies.length === 0
              ? 'No site has sent an active policy.'
              : `Pre-approved in ${data.policies.map((p) => `site ${p.site}'s policy ${p.policy}`).join(', ')}.`}
          </p>
          <table data-testid="site-playbooks">
            <thead>
              <tr>
                <th>site</th>
                <th>zone</th>
                <th>playbook</th>
                <th>mode</th>
                <th>on</th>
                <th>does</th>
                <th>limit</th>
                <th>approved by</th>
              </tr>
            </thead>
            <tbody>
              {data.playbooks.map((p) => (
                <tr key={`${p.site}/${p.zone}/${p.name}`}>
                  <td>{p.site}</td>
                  <td>{p.zone}</td>
                  <td>{p.name}</td>
                  <td>{p.mode}</td>
                  <td>{p.on.join(', ')}</td>
                  <td>
                    {p.actions
                      .map((x) => (x === 'block_source' ? `block source ${p.blockTtl} s` : x))
                      .join(', ')}
                  </td>
                  <td>
                    {p.rateLimit.max} per {p.rateLimit.per} s
                  </td>
                  <td>{p.approvals.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Actions</h2>
          <table data-testid="site-playbook-actions">
            <thead>
              <tr>
                <th>site</th>
                <th>when</th>
                <th>zone/playbook</th>
                <th>action</th>
                <th>target</th>
                <th>status</th>
                <th>detection</th>
              </tr>
            </thead>
            <tbody>
              {data.actions.map((a) => (
                <tr key={`${a.site}/${a.id}`}>
                  <td>{a.site}</td>
                  <td>{when(a.at)}</td>
                  <td>
                    {a.zone}/{a.playbook} ({a.mode})
                  </td>
                  <td>{a.kind}</td>
                  <td>{a.target}</td>
                  <td title={a.reason}>
                    {a.status}
                    {a.undoneBy ? ` by ${a.undoneBy}` : ''}
                  </td>
                  <td>
                    {a.detectionType} <code>{a.detectionId}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
