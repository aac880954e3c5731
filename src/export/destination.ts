import path from 'node:path';
import { FACILITIES } from './syslog.js';

/** Where events go: a syslog receiver over UDP, TCP or TLS, or a JSON-lines file for a log shipper. */
export type Destination =
  | {
      transport: 'udp' | 'tcp' | 'tls';
      host: string;
      port: number;
      facility: number;
      /** The destination as logs and the store may show it (never credentials). */
      label: string;
    }
  | { transport: 'jsonl'; path: string; label: string };

const DEFAULT_PORT = { udp: 514, tcp: 514, tls: 6514 } as const;

/**
 * Parse `syslog+tcp://HOST:PORT`, `syslog+udp://…`, `syslog+tls://…` (optional `?facility=local4`), or
 * `jsonl:PATH` / `file:PATH`. Syslog carries no credentials: a URL with a user or password is refused, and
 * the error never repeats the URL, so a secret pasted into it does not reach a log.
 */
export function parseDestination(spec: string): Destination {
  const file = /^(?:jsonl|file):(?:\/\/)?(.+)$/.exec(spec);
  if (file) {
    const p = path.resolve(file[1]!);
    return { transport: 'jsonl', path: p, label: `jsonl:${p}` };
  }
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new Error(
      'export destination is not a URL: give syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, syslog+tls://HOST:PORT or jsonl:FILE',
    );
  }
  const m = /^syslog\+(udp|tcp|tls):$/.exec(u.protocol);
  if (!m)
    throw new Error(
      `export destination scheme "${u.protocol.replace(/:$/, '')}" is not one of syslog+udp, syslog+tcp, syslog+tls, jsonl`,
    );
  if (u.username !== '' || u.password !== '')
    throw new Error(
      'export destination holds a user or password: syslog has no credentials (TLS uses --ca); remove them from the URL',
    );
  const transport = m[1] as 'udp' | 'tcp' | 'tls';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new Error('export destination has no host');
  const port = u.port === '' ? DEFAULT_PORT[transport] : Number(u.port);
  let facility = FACILITIES.local0!;
  for (const [k, v] of u.searchParams) {
    if (k !== 'facility')
      throw new Error(`export destination parameter "${k}" is unknown (known: facility)`);
    const f = FACILITIES[v];
    if (f === undefined)
      throw new Error(
        `syslog facility "${v}" is unknown (known: ${Object.keys(FACILITIES).join(', ')})`,
      );
    facility = f;
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    transport,
    host,
    port,
    facility,
    label: `syslog+${transport}://${hostPart}:${port}`,
  };
}
