import { useState } from 'react';
import { useApi } from '../useApi';
import { api, can, when, type Detection, type Me, type Page } from '../api';
import { LearnConfirm, type LearnPreview } from './LearnConfirm';

const ACT = ['analyst', 'security', 'admin'];

export function Detections({ me }: { me: Me }) {
  const [status, setStatus] = useState('open');
  const { data, error, reload } = useApi<Page<Detection>>(
    `/detections?limit=200${status ? `&status=${status}` : ''}`,
  );
  const [msg, setMsg] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [learning, setLearning] = useState<{ d: Detection; p: LearnPreview } | null>(null);
  const act = async (d: Detection, what: string, body: Record<string, unknown> = {}) => {
    try {
      const r = await api<Record<string, unknown>>(
        `/detections/${encodeURIComponent(d.id)}/${what}`,
        { method: 'POST', body },
      );
      setMsg(
        `${what} ${d.type} ${d.src} → ${d.dst}: done${r.proposal ? ` (proposal ${String(r.proposal)} waits for approval)` : r.version ? ` (baseline v${String(r.version)})` : ''}`,
      );
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  // Learning asks first: the server says what would become normal, the person confirms it.
  const learn = async (d: Detection) => {
    try {
      setLearning({
        d,
        p: await api<LearnPreview>(`/detections/${encodeURIComponent(d.id)}/learn-preview`),
      });
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  const actions = can(me, ACT);
  return (
    <section>
      <h1>Detections</h1>
      <div className="filters">
        <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="status">
          {['open', 'acknowledged', 'learned', 'muted', ''].map((s) => (
            <option key={s} value={s}>
              {s || 'all'}
            </option>
          ))}
        </select>
        {data && <span>{data.total} detections</span>}
      </div>
      {msg && (
        <p className="notice" role="status">
          {msg}
        </p>
      )}
      {learning && (
        <LearnConfirm
          d={learning.d}
          p={learning.p}
          onCancel={() => setLearning(null)}
          onConfirm={() => {
            const d = learning.d;
            setLearning(null);
            void act(d, 'learn', { confirm: true });
          }}
        />
      )}
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="detections">
          <thead>
            <tr>
              <th>incident</th>
              <th>first seen</th>
              <th>severity</th>
              <th>type</th>
              <th>source → destination</th>
              <th>count</th>
              <th>zone</th>
              <th>explanation</th>
              {actions && <th>actions</th>}
            </tr>
          </thead>
          <tbody>
            {data.items.map((d) => [
              <tr
                key={d.id}
                onClick={() => setOpen(open === d.id ? null : d.id)}
                className="clickable"
              >
                <td>
                  {d.incidentId && (
                    <a
                      href={`#/incidents/${encodeURIComponent(d.incidentId)}`}
                      onClick={(e) => e.stopPropagation()}
                    >
                      {d.incidentId}
                    </a>
                  )}
                </td>
                <td>{when(d.ts)}</td>
                <td className={`sev ${d.severity}`}>{d.severity}</td>
                <td>{d.type}</td>
                <td>
                  {d.src} → {d.dst}
                </td>
                <td>{d.count}</td>
                <td>{d.zone ?? ''}</td>
                <td>{d.explanation}</td>
                {actions && (
                  <td className="actions" onClick={(e) => e.stopPropagation()}>
                    <button onClick={() => act(d, 'acknowledge')}>Acknowledge</button>
                    <button onClick={() => void learn(d)}>Learn</button>
                    {d.status === 'muted' ? (
                      <button
                        onClick={() => act(d, 'unmute', { reason: 'unmuted from the dashboard' })}
                      >
                        Unmute
                      </button>
                    ) : (
                      <button
                        onClick={() => {
                          const reason = window.prompt('Why mute findings like this one?');
                          if (reason) void act(d, 'mute', { reason, days: 30 });
                        }}
                      >
                        Mute
                      </button>
                    )}
                    <button onClick={() => act(d, 'propose-block', { ttl: 3600 })}>
                      Propose block
                    </button>
                  </td>
                )}
              </tr>,
              open === d.id && (
                <tr key={`${d.id}-ev`} className="evidence">
                  <td colSpan={actions ? 9 : 8}>
                    {d.techniques && d.techniques.length > 0 && (
                      <>
                        <b>ATT&amp;CK for ICS</b> {d.techniques.join(', ')}
                        <br />
                      </>
                    )}
                    <b>Evidence</b> frames {d.evidence.frames.join(', ')} ·{' '}
                    <code>{JSON.stringify(d.evidence.fields)}</code>
                    <br />
                    <b>Suggested response</b> {d.suggestedResponse}
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
    </section>
  );
}
