import { useApi } from '../useApi';
import { when } from '../api';

interface PolicyData { active: null | { sha: string; source: string; text: string; zones: Array<{ name: string; mode: string; approvals: string[] }>; groups: number } }
interface Sim { id: string; createdAt: string; captures: string[]; firstTs: number; lastTs: number; packets: number; blockedFlows: number; baselineBlocked: number }

export function PolicyPage() {
  const policy = useApi<PolicyData>('/policy');
  const sims = useApi<{ items: Sim[] }>('/simulations');
  const a = policy.data?.active;
  return (
    <section>
      <h1>Policy</h1>
      {a === null ? <p>No active policy.</p> : a && (
        <>
          <p>Active: <code>{a.source}</code> ({a.sha.slice(0, 12)}), {a.zones.length} zones, {a.groups} context groups.</p>
          <table><thead><tr><th>zone</th><th>mode</th><th>approved by</th></tr></thead>
            <tbody>{a.zones.map((z) => <tr key={z.name}><td>{z.name}</td><td className={`mode ${z.mode}`}>{z.mode}</td><td>{z.approvals.join(', ')}</td></tr>)}</tbody></table>
          <details><summary>policy file</summary><pre>{a.text}</pre></details>
        </>
      )}
      <h2>Simulations</h2>
      {sims.data && (sims.data.items.length === 0 ? <p>No simulation recorded yet (<code>weir policy simulate --db</code>).</p> : (
        <table data-testid="simulations"><thead><tr><th>id</th><th>run</th><th>traffic</th><th>packets</th><th>flows that would break</th><th>of them baseline</th></tr></thead>
          <tbody>{sims.data.items.map((s) => <tr key={s.id}><td>{s.id}</td><td>{s.createdAt.slice(0, 19)}</td><td>{when(s.firstTs)} – {when(s.lastTs)}</td><td>{s.packets}</td>
            <td>{s.blockedFlows}</td><td className={s.baselineBlocked ? 'bad' : 'ok'}>{s.baselineBlocked}</td></tr>)}</tbody></table>
      ))}
    </section>
  );
}
