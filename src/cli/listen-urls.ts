import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';

/**
 * The URLs a browser can use to reach a server listening on `host`. A wildcard (0.0.0.0, ::) listens on every
 * address of this machine, and the one URL the HTTP server reports (127.0.0.1) works only on this machine:
 * list the machine's own addresses instead, outward-facing first.
 */
export function reachableUrls(host: string, port: number, scheme: 'http' | 'https'): string[] {
  const url = (ip: string): string => `${scheme}://${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}`;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  if (!wildcard) return [url(host)];
  const outward: string[] = [],
    local: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      // 0.0.0.0 is IPv4 only; link-local IPv6 needs a zone id no browser bar takes.
      if (
        (host === '0.0.0.0' && a.family !== 'IPv4') ||
        (a.family === 'IPv6' && /^fe80:/i.test(a.address))
      )
        continue;
      (a.internal ? local : outward).push(url(a.address));
    }
  }
  return [...new Set([...outward, ...local])];
}
