import { useState } from 'react';
import { useApi } from '../useApi';
import { api, type Me } from '../api';
import { ProposalTable, type Proposal } from '../ChangeTables';

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
        <ProposalTable
          testId="proposals"
          items={[...data.items].reverse()}
          action={(p) =>
            p.status === 'open' &&
            p.requiredRoles
              .filter((r) => !p.approvals.some((a) => a.role === r))
              .filter((r) => me.roles.includes(r))
              .map((r) => (
                <button key={r} onClick={() => approve(p, r)}>
                  Approve as {r}
                </button>
              ))
          }
        />
      )}
    </section>
  );
}
