import { useApi } from '../useApi';
import { siteLabel, siteParam } from '../api';

interface Check {
  status: 'intact' | 'tampered' | 'unverifiable';
  entries: number;
  keyed: number;
  unkeyed: number;
  head: { seq: number; at: string } | null;
  notes: string[];
  proves: string;
  doesNotProve: string;
}

interface Entry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  simulationId: string | null;
  details: Record<string, unknown>;
}

export function Audit({ site = '' }: { site?: string }) {
  return site ? <SiteAudit site={site} /> : <OwnAudit />;
}

function OwnAudit() {
  const { data, error } = useApi<{
    items: Entry[];
    chain: string | { seq: number | null; problem: string } | null;
    check: Check;
  }>('/audit');
  return (
    <section>
      <h1>Audit log</h1>
      {error && <p className="error">{error}</p>}
      {data && (
        <p data-testid="chain" className={data.check.status === 'intact' ? 'ok' : 'bad'}>
          {data.check.status === 'intact'
            ? `Audit log intact: ${data.check.entries} entries (${data.check.keyed} keyed, ${data.check.unkeyed} from before keying)${data.check.head ? `, anchored at entry ${data.check.head.seq}` : ''}.`
            : data.check.status === 'unverifiable'
              ? `Cannot verify: ${typeof data.chain === 'object' && data.chain ? data.chain.problem : ''}`
              : `Tampering found${typeof data.chain === 'object' && data.chain?.seq ? ` at entry ${data.chain.seq}` : ''}: ${typeof data.chain === 'object' && data.chain ? data.chain.problem : ''}`}
        </p>
      )}
      {data && (
        <details data-testid="audit-proves">
          <summary>What this check proves, and what it does not</summary>
          <p>{data.check.proves}</p>
          <p>{data.check.doesNotProve}</p>
          {data.check.notes.map((n) => (
            <p key={n}>{n}</p>
          ))}
        </details>
      )}
      {data && (
        <table data-testid="audit">
          <thead>
            <tr>
              <th>#</th>
              <th>when</th>
              <th>who</th>
              <th>what</th>
              <th>on</th>
              <th>details</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{e.at.slice(0, 19)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>
                  {e.subject}
                  {e.simulationId ? ` (${e.simulationId})` : ''}
                </td>
                <td>
                  <code>{JSON.stringify(e.details)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface ChainCheck {
  site: string;
  status: 'intact' | 'incomplete' | 'tampered' | 'empty';
  entries: number;
  lastSeq: number | null;
  problems: Array<{ seq: number; problem: string }>;
}

/**
 * A site's audit log as the site wrote it, kept verbatim by the manager, and the manager's own check of each
 * site's chain: a gap or a broken link is shown, never smoothed over.
 */
function SiteAudit({ site }: { site: string }) {
  const { data, error } = useApi<{ items: Array<Entry & { site: string }>; chains: ChainCheck[] }>(
    `/audit?limit=500${siteParam(site)}`,
  );
  return (
    <section>
      <h1>Audit log at {siteLabel(site)}</h1>
      {error && <p className="error">{error}</p>}
      {data && (
        <ul data-testid="site-chains">
          {data.chains.map((c) => (
            <li key={c.site} className={c.status === 'intact' ? 'ok' : 'bad'}>
              Site {c.site}:{' '}
              {c.status === 'intact'
                ? `audit chain intact at the manager: ${c.entries} entries, 1–${c.lastSeq}.`
                : c.status === 'empty'
                  ? 'no audit entries received yet.'
                  : `${c.status === 'tampered' ? 'TAMPERED' : 'INCOMPLETE'} (${c.entries} entries kept): ${c.problems
                      .slice(0, 5)
                      .map((p) => `entry ${p.seq}: ${p.problem}`)
                      .join('; ')}`}
            </li>
          ))}
        </ul>
      )}
      {data && (
        <table data-testid="audit">
          <thead>
            <tr>
              <th>site</th>
              <th>#</th>
              <th>when</th>
              <th>who</th>
              <th>what</th>
              <th>on</th>
              <th>details</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((e) => (
              <tr key={`${e.site}/${e.seq}`}>
                <td>{e.site}</td>
                <td>{e.seq}</td>
                <td>{e.at.slice(0, 19)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.subject}</td>
                <td>
                  <code>{JSON.stringify(e.details)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
