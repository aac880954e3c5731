import { siteLabel, siteParam } from '../api';
import { useApi } from '../useApi';
import {
  ActionTable,
  PlaybookTable,
  ProposalTable,
  type PlaybookAction,
  type PlaybookDef,
  type Proposal,
} from '../ChangeTables';

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

type SiteProposal = Proposal & { site: string };

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
      {data && <ProposalTable testId="site-proposals" items={data.items} bySite />}
    </section>
  );
}

type SitePlaybook = PlaybookDef & { site: string };
type SiteAction = PlaybookAction & { site: string };

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
          <PlaybookTable testId="site-playbooks" playbooks={data.playbooks} bySite />
          <h2>Actions</h2>
          <ActionTable testId="site-playbook-actions" actions={data.actions} bySite />
        </>
      )}
    </section>
  );
}
