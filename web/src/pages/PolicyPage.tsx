import { useState } from 'react';
import { useApi } from '../useApi';
import { when } from '../api';

interface Blocked {
  zone: string;
  mode: string;
  clientName: string;
  serverName: string;
  protocol: string;
  funcName: string | null;
  transport: string;
  port: number;
  reason: string;
  packets: number;
  requests: number;
  baseline: boolean;
}

/** One simulation's refused flows, as the change-control board reads them. */
function SimulationDetail({ id }: { id: string }) {
  const { data } = useApi<{ blocked: Blocked[] }>(`/simulations/${encodeURIComponent(id)}`);
  if (!data) return <p className="loading">Loading…</p>;
  if (data.blocked.length === 0) return <p className="ok">Nothing would be blocked.</p>;
  return (
    <table data-testid="simulation-detail">
      <thead>
        <tr>
          <th>zone</th>
          <th>client → server</th>
          <th>what</th>
          <th>reason</th>
          <th>count</th>
          <th>baseline</th>
        </tr>
      </thead>
      <tbody>
        {data.blocked.slice(0, 500).map((b, i) => (
          <tr key={i} className={b.baseline ? 'bad' : ''}>
            <td>
              {b.zone} ({b.mode})
            </td>
            <td>
              {b.clientName} → {b.serverName}
            </td>
            <td>{b.funcName ? `${b.protocol} ${b.funcName}` : `${b.transport}/${b.port}`}</td>
            <td>{b.reason}</td>
            <td>{b.requests || b.packets}</td>
            <td>{b.baseline ? 'yes' : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface PolicyData {
  active: null | {
    sha: string;
    source: string;
    text: string;
    zones: Array<{ name: string; mode: string; approvals: string[] }>;
    groups: number;
  };
}
interface Sim {
  id: string;
  createdAt: string;
  captures: string[];
  firstTs: number;
  lastTs: number;
  packets: number;
  blockedFlows: number;
  baselineBlocked: number;
}

export function PolicyPage() {
  const policy = useApi<PolicyData>('/policy');
  const sims = useApi<{ items: Sim[] }>('/simulations');
  const a = policy.data?.active;
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section>
      <h1>Policy</h1>
      {a === null ? (
        <p>No active policy.</p>
      ) : (
        a && (
          <>
            <p>
              Active: <code>{a.source}</code> ({a.sha.slice(0, 12)}), {a.zones.length} zones,{' '}
              {a.groups} context groups.
            </p>
            <table>
              <thead>
                <tr>
                  <th>zone</th>
                  <th>mode</th>
                  <th>approved by</th>
                </tr>
              </thead>
              <tbody>
                {a.zones.map((z) => (
                  <tr key={z.name}>
                    <td>{z.name}</td>
                    <td className={`mode ${z.mode}`}>{z.mode}</td>
                    <td>{z.approvals.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <details>
              <summary>policy file</summary>
              <pre>{a.text}</pre>
            </details>
          </>
        )
      )}
      <h2>Simulations</h2>
      {sims.data &&
        (sims.data.items.length === 0 ? (
          <p>
            No simulation recorded yet (<code>weir policy simulate --db</code>).
          </p>
        ) : (
          <table data-testid="simulations">
            <thead>
              <tr>
                <th>id</th>
                <th>run</th>
                <th>traffic</th>
                <th>packets</th>
                <th>flows that would break</th>
                <th>of them baseline</th>
              </tr>
            </thead>
            <tbody>
              {sims.data.items.map((s) => [
                <tr
                  key={s.id}
                  className="clickable"
                  onClick={() => setOpen(open === s.id ? null : s.id)}
                >
                  <td>{s.id}</td>
                  <td>{s.createdAt.slice(0, 19)}</td>
                  <td>
                    {when(s.firstTs)} – {when(s.lastTs)}
                  </td>
                  <td>{s.packets}</td>
                  <td>{s.blockedFlows}</td>
                  <td className={s.baselineBlocked ? 'bad' : 'ok'}>{s.baselineBlocked}</td>
                </tr>,
                open === s.id && (
                  <tr key={`${s.id}-d`}>
                    <td colSpan={6}>
                      <SimulationDetail id={s.id} />
                    </td>
                  </tr>
                ),
              ])}
            </tbody>
          </table>
        ))}
    </section>
  );
}
