import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import { existsSync } from 'node:fs';
import type { Db } from '../store/db.js';
import { ChangeRefused } from '../respond/change-control.js';
import { NotFound } from '../respond/detection-actions.js';
import { PolicyInvalid } from '../policy/errors.js';
import { ROUTE_PLUGINS } from './routes/index.js';
import type { RouteDeps } from './plugin.js';
import { PasswordCheckBusy } from './passwords.js';
import { installSessionGate } from './auth.js';
import { isApiPath } from './api-path.js';
import { addSharedSchemas } from './schemas.js';
import type { LoginLimits } from './login-throttle.js';
import { installSecurityHeaders } from './headers.js';
import { installHostCheck } from './hosts.js';
import type { LiveFeed } from './live.js';
import { TrustedProxies } from './proxy.js';
import { DEFAULT_STATE_DIR } from '../enforce/state.js';
import {
  capConnections,
  CONNECTION_LIMITS,
  timeoutOptions,
  type ConnectionLimits,
} from './connections.js';

export interface ServerOptions {
  db: Db;
  /** Live events of a followed capture, pushed to dashboards over /api/live. */
  feed?: LiveFeed;
  /** Built dashboard (index.html and assets); the API works without it. */
  webRoot?: string;
  logger?: boolean;
  /** Cookies only over HTTPS: implied by `https`; set it when Weir sits behind a TLS proxy. */
  secureCookies?: boolean;
  /** Serve HTTPS with this key and certificate (PEM). */
  https?: { key: string; cert: string };
  /** The reverse proxy in front: only its X-Forwarded-For names the client (default: none, the peer is the client). */
  trustedProxies?: TrustedProxies;
  /** Host names (beyond loopback and the listen address) browsers may use to reach this server. */
  allowedHosts?: readonly string[];
  /** Timeouts and connection caps (defaults: CONNECTION_LIMITS). */
  limits?: Partial<ConnectionLimits>;
  /** Runtime state of the enforcement host (applied policy, gateway health) when it is this machine. */
  stateDir?: string;
  /** How long a dashboard session lasts (default: settings server.session_s). */
  sessionSeconds?: number;
  /** Failed logins allowed per address and per account (default: settings server.login). */
  loginLimits?: LoginLimits;
  /** Directories for permits from templates (/portal, /api/permits); default: none configured. */
  iam?: RouteDeps['iam'];
  /** A fleet manager's folder: its sites on /api/sites (absent: this server runs no fleet). */
  fleetDir?: string;
  /** When the sites page calls a site stale or cut off (default: settings fleet.*). */
  fleetHealth?: RouteDeps['fleetHealth'];
  /** On a fleet site: wraps the routes' enforcement so their blocks go fleet-wide (see RouteDeps). */
  siteEnforcement?: RouteDeps['siteEnforcement'];
}

/**
 * The HTTP API (and the dashboard's files) over one store. Every route but login needs a session. The
 * resources' routes are plugins (routes/index.ts); this file only sets up what all of them run under.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const tls = opts.https !== undefined;
  const limits = { ...CONNECTION_LIMITS, ...opts.limits };
  const { server: serverOptions, ...timeouts } = timeoutOptions(limits);
  const proxies = opts.trustedProxies ?? new TrustedProxies([]);
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    // req.ip is the peer, or (from a named proxy) the rightmost X-Forwarded-For entry that is no named proxy.
    trustProxy: proxies.any ? (address: string) => proxies.has(address) : false,
    ...timeouts,
    ...(opts.https
      ? { https: { key: opts.https.key, cert: opts.https.cert, ...serverOptions } }
      : { http: serverOptions }),
  });
  // The proxy carries every client's connections: only the total cap applies to it.
  capConnections(app.server, limits, (address) => proxies.has(address));
  const secureCookies = tls || (opts.secureCookies ?? false);
  // Order matters: headers first (refusals carry them too), then the Host/Origin check, then the session.
  installSecurityHeaders(app);
  installHostCheck(app, {
    allowedHosts: opts.allowedHosts ?? [],
    schemes: tls ? ['https'] : secureCookies ? ['https', 'http'] : ['http'],
  });
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: 4096 } });
  const { db } = opts;
  installSessionGate(app, db);

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (err.validation) return reply.code(400).send({ error: `invalid request: ${err.message}` });
    if (err instanceof NotFound) return reply.code(404).send({ error: err.message });
    if (err instanceof ChangeRefused) return reply.code(409).send({ error: err.message });
    if (err instanceof PasswordCheckBusy)
      return reply.code(503).header('retry-after', '1').send({ error: err.message });
    if (err instanceof PolicyInvalid)
      return reply.code(422).send({ error: 'invalid policy', problems: err.errors });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return reply.code(err.statusCode).send({ error: err.message });
    req.log.error(err);
    return reply.code(500).send({ error: 'internal error' });
  });

  // Every resource registers in its own encapsulated context, under the gate, handler and schemas above.
  addSharedSchemas(app);
  const deps: RouteDeps = {
    db,
    stateDir: opts.stateDir ?? DEFAULT_STATE_DIR,
    secureCookies,
    trustedProxies: proxies,
    // Cookies for HTTPS on a plain-HTTP listener: a TLS proxy is in front, and without its name every portal
    // request seems to come from it (a permit would open the PLCs to the proxy host).
    portalOff:
      secureCookies && !tls && !proxies.any
        ? 'this server sits behind a TLS proxy (--secure-cookies without --tls) that is not named with --trusted-proxy, so it cannot tell your address'
        : undefined,
    feed: opts.feed,
    heartbeatSeconds: limits.heartbeatSeconds,
    sessionSeconds: opts.sessionSeconds,
    loginLimits: opts.loginLimits,
    iam: opts.iam,
    fleetDir: opts.fleetDir,
    fleetHealth: opts.fleetHealth,
    siteEnforcement: opts.siteEnforcement,
  };
  for (const plugin of ROUTE_PLUGINS) await app.register(plugin, deps);

  const noSuchEndpoint = { error: 'no such endpoint' };
  const webRoot = opts.webRoot;
  if (webRoot && existsSync(webRoot)) {
    // The dashboard's files are public; the encapsulated plugin marks exactly its own routes so.
    await app.register(async (files) => {
      files.addHook('onRoute', (r) => {
        r.config = { ...r.config, public: true };
      });
      await files.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: false });
      // The dashboard routes in the browser: unknown non-API paths get its page.
      files.setNotFoundHandler((req, reply) =>
        isApiPath(req.url) ? reply.code(404).send(noSuchEndpoint) : reply.sendFile('index.html'),
      );
    });
  } else {
    app.setNotFoundHandler((_req, reply) => reply.code(404).send(noSuchEndpoint));
  }
  return app;
}
