import { useState } from 'react';
import { useApi } from '../useApi';
import { Pager } from '../Pager';
import { siteHref, siteLabel, siteParam, type Asset, type Page } from '../api';

const ROLES = [
  '',
  'plc',
  'rtu',
  'hmi',
  'engineering_workstation',
  'historian',
  'scada_server',
  'io_device',
  'bacnet_device',
  'network_device',
  'workstation',
  'scanner',
  'unknown',
];
const PAGE = 100;

/** The inventory; with a site chosen, the copy the manager keeps of that site's (or every site's). */
export function Assets({ site = '' }: { site?: string }) {
  const [q, setQ] = useState('');
  const [role, setRole] = useState('');
  const [offset, setOffset] = useState(0);
  const query = new URLSearchParams({
    limit: String(PAGE),
    offset: String(offset),
    ...(q ? { q } : {}),
    ...(role ? { role } : {}),
  });
  const { data, error } = useApi<Page<Asset & { site?: string }>>(
    `/assets?${query}${siteParam(site)}`,
  );
  return (
    <section>
      <h1>Assets{site ? ` at ${siteLabel(site)}` : ''}</h1>
      <div className="filters">
        <input
          placeholder="search address, name, vendor…"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            setOffset(0);
          }}
          aria-label="search"
        />
        <select
          value={role}
          onChange={(e) => {
            setRole(e.target.value);
            setOffset(0);
          }}
          aria-label="role"
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r || 'any role'}
            </option>
          ))}
        </select>
        {data && <span>{data.total} assets</span>}
      </div>
      {error && <p className="error">{error}</p>}
      {data && (
        <table data-testid="assets">
          <thead>
            <tr>
              {site && <th>site</th>}
              <th>address</th>
              <th>name</th>
              <th>role</th>
              <th>zone</th>
              <th>vendor / product</th>
              <th>firmware</th>
              <th>serves</th>
              <th>uses</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((a) => (
              <tr key={`${a.site ?? ''}/${a.id}`}>
                {site && <td>{a.site}</td>}
                <td>
                  {site && a.site ? (
                    <a href={siteHref(a.site, 'assets', a.id)}>{a.ips[0] ?? a.id}</a>
                  ) : (
                    <a href={`#/assets/${encodeURIComponent(a.id)}`}>{a.ips[0] ?? a.id}</a>
                  )}
                </td>
                <td>{a.hostnames[0] ?? ''}</td>
                <td>{a.role}</td>
                <td>{a.zone ?? ''}</td>
                <td>
                  {[a.identity.vendor ?? a.macVendor, a.identity.product ?? a.identity.model]
                    .filter(Boolean)
                    .join(' / ')}
                </td>
                <td>{a.identity.firmware ?? ''}</td>
                <td>{a.serves.join(', ')}</td>
                <td>{a.uses.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && <Pager offset={offset} size={PAGE} total={data.total} onOffset={setOffset} />}
    </section>
  );
}
