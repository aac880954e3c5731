import { useState } from 'react';
import { useApi } from '../useApi';
import { api, type Me } from '../api';

interface Proposal {
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

export function Approvals({ me }: { me: Me }) {
  const { data, error, reload } = useApi<{ items: Proposal[] }>('/proposals');
  const [msg, setMsg] = useState<string | null>(null);
  const approve = async (p: Proposal, role: string) => {
    try {
      const r = await api<{ status: string }>(`/proposals/${p.id}/approve`, {
        method: 'POST',
        body: { role },
      });
      setMsg(`proposal ${p.id}: ${r.status}`);
      reload();
    } catch (e) {
      setMsg((e as Error).message);
    }
  };
  return (
    <section>
      <h1>Approvals</h1>
      {msg && (
        <p className="notice" role="status">
          {msg}
        </p>
      )}
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="proposals">
          <thead>
            <tr>
              <th>#</th>
              <th>what</th>
              <th>zone</th>
              <th>by</th>
              <th>status</th>
              <th>needs</th>
              <th>approved</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {[...data.items].reverse().map((p) => {
              const missing = p.requiredRoles.filter((r) => !p.approvals.some((a) => a.role === r));
              return (
                <tr key={p.id}>
                  <td>{p.id}</td>
                  <td>
                    {p.kind}
                    {p.doc.ip ? ` ${String(p.doc.ip)}` : ''}
                    {p.doc.to ? ` → ${String(p.doc.to)}` : ''} <small>{p.note}</small>
                  </td>
                  <td>{p.zone ?? ''}</td>
                  <td>{p.createdBy}</td>
                  <td>{p.status}</td>
                  <td>{p.requiredRoles.join(', ')}</td>
                  <td>{p.approvals.map((a) => `${a.user} (${a.role})`).join(', ')}</td>
                  <td>
                    {p.status === 'open' &&
                      missing
                        .filter((r) => me.roles.includes(r))
                        .map((r) => (
                          <button key={r} onClick={() => approve(p, r)}>
                            Approve as {r}
                          </button>
                        ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
