import { useState } from 'react';
import { useApi } from '../useApi';
import { Pager } from '../Pager';
import { siteHref, siteLabel, siteParam, when, type Page } from '../api';

interface Flow {
  site: string;
  id: string;
  client: string;
  server: string;
  protocol: string;
  transport: string;
  port: number;
  packets: number;
  bytes: number;
  firstSeen: number;
  lastSeen: number;
}
const PAGE = 200;

/**
 * The flows of one site (or every site): the conversations it sent the manager, busiest first. The manager
 * keeps no per-minute series of sites, so this is the site's flow table rather than the zone charts.
 */
export function SiteFlows({ site }: { site: string }) {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const query = new URLSearchParams({
    limit: String(PAGE),
    offset: String(offset),
    ...(q ? { q } : {}),
  });
  const { data, error } = useApi<
    Page<Flow> & { sites: Array<{ site: string; flows: number; packets: number; bytes: number }> }
  >(`/flows?${query}${siteParam(site)}`);
  return (
    <section>
      <h1>Flows at {siteLabel(site)}</h1>
      <p className="small">
        Conversations the site reported (client → server, protocol and port, packets so far). The
        per-minute zone charts are kept at each site only.
      </p>
      {data && (
        <ul data-testid="flow-sites">
          {data.sites.map((s) => (
            <li key={s.site}>
              site {s.site}: {s.flows.toLocaleString()} flows, {s.packets.toLocaleString()} packets,{' '}
              {s.bytes.toLocaleString()} bytes
            </li>
          ))}
        </ul>
      )}
      <div className="filters">
        <input
          placeholder="search address, protocol…"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            setOffset(0);
          }}
          aria-label="search"
        />
        {data && <span>{data.total} flows</span>}
      </div>
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="site-flows">
          <thead>
            <tr>
              <th>site</th>
              <th>client</th>
              <th>server</th>
              <th>protocol</th>
              <th>port</th>
              <th>packets</th>
              <th>bytes</th>
              <th>seen</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((f) => (
              <tr key={`${f.site}/${f.id}`}>
                <td>{f.site}</td>
                <td>
                  <a href={siteHref(f.site, 'assets', f.client)}>{f.client}</a>
                </td>
                <td>
                  <a href={siteHref(f.site, 'assets', f.server)}>{f.server}</a>
                </td>
                <td>{f.protocol}</td>
                <td>
                  {f.transport}/{f.port}
                </td>
                <td>{f.packets.toLocaleString()}</td>
                <td>{f.bytes.toLocaleString()}</td>
                <td>
                  {when(f.firstSeen)} – {when(f.lastSeen)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && <Pager offset={offset} size={PAGE} total={data.total} onOffset={setOffset} />}
    </section>
  );
}
