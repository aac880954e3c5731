import { useApi } from '../useApi';
import { when, type Incident, type Page } from '../api';

interface Enforcement {
  kernel: {
    state: 'unknown' | 'removed' | 'applied';
    live?: { readable: boolean; loaded: boolean; matchesApplied: boolean };
  };
  gateway:
    | { state: 'none' }
    | { state: 'up'; since: string; servers: number; testFault: string | null }
    | { state: 'down'; since: string; servers: number; reason: string; testFault: string | null };
  /** The server's own sentence: what the enforcement host runs right now, or that it is unknown. */
  text: string;
}

interface OverviewData {
  assets: number;
  edges: number;
  openDetections: number;
  baselineVersion: number | null;
  health: string;
  enforcement: Enforcement;
  detections: Record<string, Record<string, number>>;
  zones: Array<{ name: string; mode: string; securityLevel: number | null; members: number }>;
}

export function Overview() {
  const { data, error } = useApi<OverviewData>('/overview');
  const incidents = useApi<Page<Incident>>('/incidents?status=open&limit=5');
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const open = data.detections.open ?? {};
  return (
    <section>
      <h1>Overview</h1>
      {data.enforcement.gateway.state !== 'none' && data.enforcement.gateway.testFault !== null && (
        <p className="alert" role="alert" data-testid="gateway-test-fault">
          Gateway runs with TEST FAULT INJECTION ON ({data.enforcement.gateway.testFault}): every
          PDU passes uninspected. Restart it without --inject-fault.
        </p>
      )}
      {data.enforcement.gateway.state === 'down' && (
        <p className="alert" role="alert" data-testid="gateway-down">
          Gateway down since {data.enforcement.gateway.since} ({data.enforcement.gateway.reason}):
          traffic to {data.enforcement.gateway.servers} guarded server port(s) is passing
          uninspected. The kernel allowlists still hold.
        </p>
      )}
      <p className="health" data-testid="health">
        {data.health}
      </p>
      <div className="cards">
        <a className="card" href="#/assets">
          <b data-testid="asset-count">{data.assets}</b> assets
        </a>
        <a className="card" href="#/map">
          <b>{data.edges}</b> communication edges
        </a>
        <a className="card" href="#/incidents">
          <b data-testid="open-incidents">{incidents.data?.total ?? '…'}</b> open incidents
        </a>
        <a className="card" href="#/detections">
          <b data-testid="open-detections">{data.openDetections}</b> open detections
        </a>
        <div className="card">
          <b>{data.baselineVersion ?? '—'}</b> baseline version
        </div>
      </div>
      {incidents.data && incidents.data.items.length > 0 && (
        <>
          <h2>Latest open incidents</h2>
          <ul data-testid="latest-incidents">
            {incidents.data.items.map((i) => (
              <li key={i.id}>
                <span className={`sev ${i.severity}`}>{i.severity}</span> {when(i.lastSeen)}{' '}
                <a href={`#/incidents/${encodeURIComponent(i.id)}`}>{i.title}</a>
              </li>
            ))}
          </ul>
        </>
      )}
      <h2>Open detections by severity</h2>
      <p>
        {['critical', 'high', 'medium', 'low'].map((s) => (
          <span key={s} className={`sev ${s}`}>
            {s}: {open[s] ?? 0}
          </span>
        ))}
      </p>
      <h2>Zones and enforcement</h2>
      <p
        data-testid="enforcement"
        className={
          data.enforcement.kernel.live?.readable === false ||
          data.enforcement.kernel.state === 'unknown'
            ? 'unknown'
            : ''
        }
      >
        {data.enforcement.text}
      </p>
      {data.zones.length === 0 ? (
        <p>
          No active policy: Weir watches only. Propose one with <code>weir policy propose</code>.
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>zone</th>
              <th>mode</th>
              <th>security level</th>
              <th>members</th>
            </tr>
          </thead>
          <tbody>
            {data.zones.map((z) => (
              <tr key={z.name}>
                <td>{z.name}</td>
                <td className={`mode ${z.mode}`}>{z.mode}</td>
                <td>{z.securityLevel ?? ''}</td>
                <td>{z.members}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
