import type { FastifyInstance, FastifyRequest } from 'fastify';
import { networkInterfaces } from 'node:os';

/** Names every Weir server answers to, whatever it listens on. */
const LOOPBACK = ['localhost', '127.0.0.1', '::1'];
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host name of a Host header value (lower case, IPv6 without brackets); null when it is not one. */
function hostName(value: string | undefined): string | null {
  if (!value) return null;
  try {
    const u = new URL(`http://${value}`);
    if (u.username || u.password || u.pathname !== '/' || u.search || u.hash) return null;
    return u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return null;
  }
}

/** scheme://host[:port] as a browser writes it in Origin, default ports dropped. */
function originOf(scheme: string, host: string): string | null {
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return null;
  }
}

/**
 * DNS rebinding and cross-site requests. A page on an attacker's name that resolves to this server sends that
 * name as Host: only the address the server listens on, loopback names and names the operator allowed are
 * answered (421 otherwise). A WebSocket upgrade must come from a page of this very origin (browsers send
 * cookies on cross-site upgrades), and a state change that names another origin is refused.
 */
export function installHostCheck(
  app: FastifyInstance,
  opts: { allowedHosts: readonly string[]; schemes: readonly string[] },
): void {
  const allowed = new Set([
    ...LOOPBACK,
    ...opts.allowedHosts.map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1')),
  ]);
  app.server.on('listening', () => {
    const a = app.server.address();
    if (a === null || typeof a === 'string') return;
    if (a.address !== '0.0.0.0' && a.address !== '::') {
      allowed.add(a.address.toLowerCase());
      return;
    }
    // Listening everywhere: each of this machine's addresses is a way to reach it (an address cannot be rebound).
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) allowed.add(i.address.toLowerCase());
  });

  const sameOrigin = (req: FastifyRequest, origin: string): boolean =>
    opts.schemes.some((s) => originOf(s, req.headers.host!) === origin);

  app.addHook('onRequest', async (req, reply) => {
    const name = hostName(req.headers.host);
    if (name === null || !allowed.has(name)) {
      return reply.code(421).send({
        error:
          'this server does not answer to that host name (weir serve --allowed-host NAME adds one)',
      });
    }
    const origin = req.headers.origin;
    if (req.headers.upgrade !== undefined && (origin === undefined || !sameOrigin(req, origin))) {
      return reply
        .code(403)
        .send({ error: 'a live connection must come from the dashboard of this server' });
    }
    if (!SAFE_METHODS.has(req.method) && origin !== undefined && !sameOrigin(req, origin)) {
      return reply.code(403).send({ error: 'cross-origin request refused' });
    }
  });
}
