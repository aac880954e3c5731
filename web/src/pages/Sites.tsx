import { useApi } from '../useApi';
import type { FleetView } from '../api';
import { CaptureLine } from '../CaptureLine';

const ago = (s: number): string =>
  s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;

/** A state version against the manager's latest: behind is said, not just shown. */
function version(applied: number | null, latest: number | null): string {
  if (latest === null) return applied === null ? 'none published' : `v${applied}`;
  if (applied === null) return `none (latest v${latest})`;
  return applied >= latest ? `v${applied} (latest)` : `v${applied}, behind v${latest}`;
}

/** The fleet manager's sites: health by when each was last heard from, lag, state versions, enforcement. */
export function Sites() {
  const { data, error } = useApi<FleetView>('/sites');
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  if (!data.fleet)
    return (
      <section>
        <h1>Sites</h1>
        <p className="notice" data-testid="no-fleet">
          This server runs no fleet manager (start it with --fleet-manager DIR to list sites).
        </p>
      </section>
    );
  const now = Date.now();
  return (
    <section>
      <h1>Sites</h1>
      <p data-testid="site-summary">
        {data.sites.length} sites: {data.sites.filter((s) => s.health === 'ok').length} ok,{' '}
        {data.sites.filter((s) => s.health === 'stale').length} stale,{' '}
        {data.sites.filter((s) => s.health === 'cut off').length} cut off
      </p>
      <table data-testid="sites">
        <thead>
          <tr>
            <th>site</th>
            <th>health</th>
            <th>last sync</th>
            <th>lag</th>
            <th>outbox backlog</th>
            <th>held at manager</th>
            <th>records</th>
            <th>policy</th>
            <th>blocklist</th>
            <th>not in force</th>
            <th>enforcement per zone</th>
            <th>capture</th>
          </tr>
        </thead>
        <tbody>
          {data.sites.map((s) => (
            <tr key={s.name} data-site={s.name} className="site-row">
              <td>{s.name}</td>
              <td className={`site-health h-${s.health.replace(' ', '-')}`}>
                {s.health === 'cut off' ? 'CUT OFF' : s.health}
              </td>
              <td>
                {new Date(s.lastSync).toISOString().replace('T', ' ').slice(0, 19)} (
                {ago(Math.max(0, Math.round((now - s.lastSync) / 1000)))} ago)
              </td>
              <td>lag {ago(s.lagSeconds)}</td>
              <td>{s.backlog === null ? 'not reported' : `${s.backlog} waiting`}</td>
              <td className="site-intake">
                {s.intake === null
                  ? '–'
                  : `${s.intake.held} held${s.intake.throttled > 0 ? `, rate-limited ${s.intake.throttled}×` : ''}${s.intake.atBound.length > 0 ? `; AT BOUND (${s.intake.atBound.join(', ')}): the hub refuses more, they wait at the site` : ''}`}
              </td>
              <td>{s.records}</td>
              <td>{version(s.applied.policy ?? null, data.latest.policy ?? null)}</td>
              <td>{version(s.applied.blocklist ?? null, data.latest.blocklist ?? null)}</td>
              <td className="site-not-in-force">
                {(s.notInForce ?? []).length === 0
                  ? '–'
                  : s.notInForce.map((f) => (
                      <div key={f.kind}>
                        {f.kind} v{f.version} NOT IN FORCE: {f.reason}
                      </div>
                    ))}
              </td>
              <td>
                {s.enforcement === null
                  ? 'not reported'
                  : s.enforcement.error
                    ? `error: ${s.enforcement.error}`
                    : !s.enforcement.loaded
                      ? 'nothing loaded'
                      : s.enforcement.zones.length === 0
                        ? `loaded (zones not reported), gateway ${s.enforcement.gateway ?? '?'}`
                        : `${s.enforcement.zones.map((z) => `${z.name}: ${z.mode}`).join(', ')}; gateway ${s.enforcement.gateway ?? '?'}`}
              </td>
              <td className="site-capture">
                {s.capture === null ? 'not reported' : <CaptureLine capture={s.capture} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
