import { useState } from 'react';
import { useApi } from '../useApi';
import {
  api,
  can,
  siteHref,
  siteLabel,
  siteParam,
  when,
  type Incident,
  type Me,
  type Page,
} from '../api';

const ACT = ['analyst', 'security', 'admin'];

/** Incidents: detections correlated into cases, newest activity first. */
export function Incidents({ me, id, site = '' }: { me: Me; id?: string; site?: string }) {
  return id ? <IncidentPage me={me} id={id} /> : <IncidentList site={site} />;
}

/** With a site chosen: the incidents the manager keeps of that site (or every site), read-only here. */
function IncidentList({ site }: { site: string }) {
  const [status, setStatus] = useState('');
  const { data, error } = useApi<Page<Incident & { site?: string }> & { notice: string }>(
    `/incidents?limit=200${status ? `&status=${status}` : ''}${siteParam(site)}`,
  );
  return (
    <section>
      <h1>Incidents{site ? ` at ${siteLabel(site)}` : ''}</h1>
      <div className="filters">
        <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="status">
          {['', 'open', 'acknowledged', 'contained', 'closed'].map((s) => (
            <option key={s} value={s}>
              {s || 'all'}
            </option>
          ))}
        </select>
        {data && <span>{data.total} incidents</span>}
      </div>
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="incidents">
          <thead>
            <tr>
              {site && <th>site</th>}
              <th>last activity</th>
              <th>severity</th>
              <th>status</th>
              <th>incident</th>
              <th>tactics</th>
              <th>detections</th>
              <th>zones</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((i) => (
              <tr key={`${i.site ?? ''}/${i.id}`}>
                {site && <td>{i.site}</td>}
                <td>{when(i.lastSeen)}</td>
                <td className={`sev ${i.severity}`}>{i.severity}</td>
                <td>{i.status}</td>
                <td>
                  {site && i.site ? (
                    <a href={siteHref(i.site, 'incidents', i.id)}>{i.title}</a>
                  ) : (
                    <a href={`#/incidents/${encodeURIComponent(i.id)}`}>{i.title}</a>
                  )}
                </td>
                <td>{i.tactics.map((t) => i.tacticNames[t] ?? t).join(' → ')}</td>
                <td>{i.detectionIds.length}</td>
                <td>{i.zones.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && <p className="small">{data.notice}</p>}
    </section>
  );
}

/** One incident: this server's, or with `site` that site's as it sent it (read-only: acted on at the site). */
export function IncidentPage({ me, id, site = '' }: { me: Me; id: string; site?: string }) {
  const { data, error, reload } = useApi<Incident & { notice: string }>(
    `/incidents/${encodeURIComponent(id)}${site ? `?site=${encodeURIComponent(site)}` : ''}`,
  );
  const [msg, setMsg] = useState<string | null>(null);
  const [note, setNote] = useState('');
  const act = async (what: string, body: Record<string, unknown> = {}) => {
    try {
      await api(`/incidents/${encodeURIComponent(id)}/${what}`, { method: 'POST', body });
      setMsg(`${what}: done`);
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const i = data;
  const actions = can(me, ACT) && !site;
  return (
    <section>
      <p>
        <a href="#/incidents">← Incidents</a>
      </p>
      <h1 data-testid="incident-title">{i.title}</h1>
      {site && (
        <p className="notice">
          Site {site}'s incident, as the site last sent it. Status changes and notes are made at the
          site.
        </p>
      )}
      {msg && (
        <p className="notice" role="status">
          {msg}
        </p>
      )}
      <table className="facts">
        <tbody>
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
              {i.newSinceStatus > 0 ? ` — ${i.newSinceStatus} new detections since` : ''}
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
                  <a
                    href={
                      site
                        ? siteHref(site, 'assets', a.address)
                        : `#/assets/${encodeURIComponent(a.address)}`
                    }
                  >
                    {a.name ? `${a.name} (${a.address})` : a.address}
                  </a>
                  {a.role && a.role !== 'unknown' ? ` [${a.role}]` : ''}{' '}
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
      {actions && (
        <div className="actions">
          <button disabled={i.status !== 'open'} onClick={() => void act('acknowledge')}>
            Acknowledge
          </button>
          <button
            disabled={i.status === 'contained' || i.status === 'closed'}
            onClick={() => void act('contain')}
          >
            Contained
          </button>
          <button disabled={i.status === 'closed'} onClick={() => void act('close')}>
            Close
          </button>
        </div>
      )}
      <h2>Timeline ({i.detectionIds.length} detections)</h2>
      <ol className="timeline" data-testid="incident-timeline">
        {(i.timeline ?? []).map((s, n) => (
          <li key={`${s.detectionId}-${n}`} id={`d-${s.detectionId}`}>
            <span className="when">{when(s.ts)}</span>{' '}
            <span className={`sev ${s.severity}`}>{s.severity}</span> <b>{s.type}</b> {s.src} →{' '}
            {s.dst}
            {s.count > 1 ? ` ×${s.count}` : ''} ·{' '}
            {s.techniques.map((t) => `${t} ${i.techniqueNames[t] ?? ''}`.trim()).join(', ')}
            <br />
            {s.explanation}
            <br />
            <small>
              <b>Evidence</b> frames {s.evidence.frames.join(', ')} ·{' '}
              <code>{JSON.stringify(s.evidence.fields)}</code>
            </small>
          </li>
        ))}
      </ol>
      <h2>Notes</h2>
      <ul data-testid="incident-notes">
        {i.notes.map((n, k) => (
          <li key={`${n.at}-${n.by}-${k}`}>
            {n.at.replace('T', ' ').slice(0, 19)} <b>{n.by}</b>: {n.text}
          </li>
        ))}
      </ul>
      {actions && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (note.trim()) void act('notes', { text: note }).then(() => setNote(''));
          }}
        >
          <input
            aria-label="note"
            value={note}
            onChange={(e) => setNote(e.target.value)}
            placeholder="Add a note"
          />
          <button type="submit">Add note</button>
        </form>
      )}
      <p className="small">{data.notice}</p>
    </section>
  );
}
