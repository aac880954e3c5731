import { useApi } from '../useApi';

interface Entry { seq: number; at: string; actor: string; action: string; subject: string; simulationId: string | null; details: Record<string, unknown> }

export function Audit() {
  const { data, error } = useApi<{ items: Entry[]; chain: string | { seq: number; problem: string } }>('/audit');
  return (
    <section>
      <h1>Audit log</h1>
      {error && <p className="error">{error}</p>}
      {data && <p data-testid="chain" className={data.chain === 'intact' ? 'ok' : 'bad'}>
        {data.chain === 'intact' ? 'Hash chain intact: no entry was changed or removed.' : `Tampering found at entry ${typeof data.chain === 'object' ? data.chain.seq : ''}`}</p>}
      {data && (
        <table data-testid="audit"><thead><tr><th>#</th><th>when</th><th>who</th><th>what</th><th>on</th><th>details</th></tr></thead>
          <tbody>{data.items.map((e) => <tr key={e.seq}><td>{e.seq}</td><td>{e.at.slice(0, 19)}</td><td>{e.actor}</td><td>{e.action}</td><td>{e.subject}{e.simulationId ? ` (${e.simulationId})` : ''}</td><td><code>{JSON.stringify(e.details)}</code></td></tr>)}</tbody></table>
      )}
    </section>
  );
}
