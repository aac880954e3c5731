import { useApi } from '../useApi';
import { siteHref, when, type Incident } from '../api';

/** One site's incident as it sent it: read-only here, the site's analysts act on it at the site. */
export function SiteIncident({ site, id }: { site: string; id: string }) {
  const { data, error } = useApi<Incident & { site: string; notice: string }>(
    `/incidents/${encodeURIComponent(id)}?site=${encodeURIComponent(site)}`,
  );
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const i = data;
  return (
    <section>
      <p>
        <a href="#/incidents">← Incidents</a>
      </p>
      <h1 data-testid="incident-title">{i.title}</h1>
      <p className="notice">
        Site {i.site}'s incident, as the site last sent it. Status changes and notes are made at the
        site.
      </p>
      <table className="facts">
        <tbody>
          <tr>
            <th>site</th>
            <td>{i.site}</td>
          </tr>
          <tr>
            <th>severity</th>
            <td>
              <span className={`sev ${i.severity}`}>{i.severity}</span>
            </td>
          </tr>
          <tr>
            <th>status</th>
            <td data-testid="incident-status">
              {i.status}
              {i.statusBy ? ` (${i.statusBy}, ${i.statusAt})` : ''}
            </td>
          </tr>
          <tr>
            <th>seen</th>
            <td>
              {when(i.firstSeen)} – {when(i.lastSeen)}
            </td>
          </tr>
          <tr>
            <th>assets</th>
            <td>
              {i.assets.map((a) => (
                <span key={a.address} className="asset-chip">
                  {a.part}{' '}
                  <a href={siteHref(i.site, 'assets', a.address)}>
                    {a.name ? `${a.name} (${a.address})` : a.address}
                  </a>{' '}
                </span>
              ))}
            </td>
          </tr>
          <tr>
            <th>zones</th>
            <td>{i.zones.join(', ') || '—'}</td>
          </tr>
          <tr>
            <th>tactics</th>
            <td data-testid="incident-tactics">
              {i.tactics.map((t) => i.tacticNames[t] ?? t).join(' → ')}
            </td>
          </tr>
          <tr>
            <th>techniques</th>
            <td>
              {i.techniques.map((t) => `${t} ${i.techniqueNames[t] ?? ''}`.trim()).join(', ')}
            </td>
          </tr>
        </tbody>
      </table>
      <h2>Timeline ({i.detectionIds.length} detections)</h2>
      <ol className="timeline" data-testid="incident-timeline">
        {(i.timeline ?? []).map((s, n) => (
          <li key={`${s.detectionId}-${n}`}>
            <span className="when">{when(s.ts)}</span>{' '}
            <span className={`sev ${s.severity}`}>{s.severity}</span> <b>{s.type}</b> {s.src} →{' '}
            {s.dst}
            {s.count > 1 ? ` ×${s.count}` : ''}
            <br />
            {s.explanation}
          </li>
        ))}
      </ol>
      <h2>Notes</h2>
      <ul data-testid="incident-notes">
        {i.notes.map((n, k) => (
          <li key={k}>
            {n.at.replace('T', ' ').slice(0, 19)} <b>{n.by}</b>: {n.text}
          </li>
        ))}
      </ul>
      <p className="small">{data.notice}</p>
    </section>
  );
}
