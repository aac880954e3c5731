import { useState } from 'react';
import { api, type Me } from '../api';
import { useApi } from '../useApi';

interface PlaybookDef {
  zone: string;
  name: string;
  mode: 'simulate' | 'act';
  on: string[];
  actions: string[];
  blockTtl: number;
  mayBlock: string[];
  rateLimit: { max: number; per: number };
  approvals: string[];
}

interface Action {
  id: string;
  at: number;
  zone: string;
  playbook: string;
  mode: string;
  kind: string;
  target: string;
  ttlS: number | null;
  expiresAt: number | null;
  detectionId: string;
  detectionType: string;
  status: string;
  reason: string;
  undoneBy: string | null;
  undoneAt: string | null;
}

const ENFORCERS = ['security', 'operations', 'admin'];
const when = (s: number): string => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);

/** The zones' pre-approved playbooks and what they did; a block or a revoked permit is undone with one click. */
export function Playbooks({ me }: { me: Me }) {
  const { data, error, reload } = useApi<{
    policy: string | null;
    playbooks: PlaybookDef[];
    actions: Action[];
  }>('/playbooks?limit=200');
  const [message, setMessage] = useState<string | null>(null);
  const canUndo = me.roles.some((r) => ENFORCERS.includes(r));
  const undo = async (a: Action) => {
    setMessage(null);
    try {
      await api(`/playbooks/actions/${encodeURIComponent(a.id)}/undo`, { method: 'POST' });
      setMessage(
        `${a.id} undone: ${a.kind === 'block_source' ? `${a.target} unblocked` : `permit ${a.target} restored`}`,
      );
    } catch (e) {
      setMessage((e as Error).message);
    }
    reload();
  };
  const now = Date.now() / 1000;
  return (
    <section>
      <h1>Playbooks</h1>
      {error && <p className="error">{error}</p>}
      {message && <p data-testid="playbook-message">{message}</p>}
      {data && (
        <>
          <p>
            {data.playbooks.length === 0
              ? 'The active policy has no playbooks: Weir takes no action on its own.'
              : `Pre-approved in policy ${data.policy}: what Weir may do on its own, within these limits.`}
          </p>
          {data.playbooks.length > 0 && (
            <table data-testid="playbooks">
              <thead>
                <tr>
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
                  <tr key={`${p.zone}/${p.name}`}>
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
          )}
          <h2>Actions</h2>
          <table data-testid="playbook-actions">
            <thead>
              <tr>
                <th>when</th>
                <th>zone/playbook</th>
                <th>action</th>
                <th>target</th>
                <th>status</th>
                <th>detection</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {data.actions.map((a) => (
                <tr key={a.id} data-action={a.id}>
                  <td>{when(a.at)}</td>
                  <td>
                    {a.zone}/{a.playbook} ({a.mode})
                  </td>
                  <td>
                    {a.kind}
                    {a.ttlS ? ` ${a.ttlS} s` : ''}
                  </td>
                  <td>{a.target}</td>
                  <td title={a.reason}>
                    {a.status}
                    {a.undoneBy ? ` by ${a.undoneBy}` : ''}
                    {a.status === 'refused' || a.status === 'failed' ? `: ${a.reason}` : ''}
                  </td>
                  <td>
                    {a.detectionType} <code>{a.detectionId}</code>
                  </td>
                  <td>
                    {canUndo &&
                      a.status === 'done' &&
                      a.kind !== 'notify' &&
                      (a.expiresAt === null || a.expiresAt > now) && (
                        <button onClick={() => void undo(a)}>Undo</button>
                      )}
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
