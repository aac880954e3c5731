import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import { existsSync } from 'node:fs';
import type { Db } from '../store/db.js';
import { userRoles } from '../store/change-store.js';
import { createSession, deleteSession, passwordHash, sessionUser } from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import { ChangeRefused } from '../respond/change-control.js';
import { NotFound } from '../respond/detection-actions.js';
import { PolicyInvalid } from '../policy/errors.js';
import type { UserRole } from '../respond/roles.js';
import { newToken, tokenHash, verifyPassword } from './passwords.js';
import { registerRoutes } from './routes.js';
import type { LiveFeed } from './live.js';

export const SESSION_COOKIE = 'weir_session';
const SESSION_SECONDS = 8 * 3600;
/** Failed logins per address per minute before the server stops checking passwords for it. */
const LOGIN_FAILURES = 10;

export interface ServerOptions {
  db: Db;
  /** Live events of a followed capture, pushed to dashboards over /api/live. */
  feed?: LiveFeed;
  /** Built dashboard (index.html and assets); the API works without it. */
  webRoot?: string;
  logger?: boolean;
  /** Cookies only over HTTPS (set when Weir is behind TLS). */
  secureCookies?: boolean;
}

export interface Caller { name: string; roles: string[] }

declare module 'fastify' {
  interface FastifyRequest { caller: Caller | null }
}

/** The HTTP API (and the dashboard's files) over one store. Every route but login needs a session. */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 200 }, trustProxy: false });
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: 4096 } });
  app.decorateRequest('caller', null);
  const { db } = opts;
  const failures = new Map<string, { n: number; since: number }>();

  app.addHook('onRequest', async (req) => {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) return;
    const user = sessionUser(db, tokenHash(token));
    if (user !== null) req.caller = { name: user, roles: userRoles(db, user) ?? [] };
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (err.validation) return reply.code(400).send({ error: `invalid request: ${err.message}` });
    if (err instanceof NotFound) return reply.code(404).send({ error: err.message });
    if (err instanceof ChangeRefused) return reply.code(409).send({ error: err.message });
    if (err instanceof PolicyInvalid) return reply.code(422).send({ error: 'invalid policy', problems: err.errors });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    req.log.error(err);
    return reply.code(500).send({ error: 'internal error' });
  });

  app.post('/api/session', {
    schema: { body: { type: 'object', additionalProperties: false, required: ['user', 'password'], properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } } } },
  }, async (req, reply) => {
    const { user, password } = req.body as { user: string; password: string };
    const now = Date.now() / 1000;
    const f = failures.get(req.ip);
    if (f && now - f.since < 60 && f.n >= LOGIN_FAILURES) return reply.code(429).send({ error: 'too many failed logins; wait a minute' });
    const stored = passwordHash(db, user);
    // Hash even for unknown users, so timing does not tell which names exist.
    const ok = await verifyPassword(password, stored ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    if (!ok || stored === null) {
      failures.set(req.ip, f && now - f.since < 60 ? { n: f.n + 1, since: f.since } : { n: 1, since: now });
      appendAudit(db, { actor: user, action: 'login.failed', subject: req.ip, details: {} });
      return reply.code(401).send({ error: 'wrong user or password' });
    }
    failures.delete(req.ip);
    const { token, hash } = newToken();
    createSession(db, hash, user, now + SESSION_SECONDS);
    appendAudit(db, { actor: user, action: 'login', subject: req.ip, details: {} });
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', secure: opts.secureCookies ?? false, maxAge: SESSION_SECONDS });
    return { name: user, roles: userRoles(db, user) ?? [] };
  });

  app.delete('/api/session', async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) deleteSession(db, tokenHash(token));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  // Everything else under /api needs a session.
  app.addHook('preHandler', async (req, reply) => {
    if (!req.url.startsWith('/api/') || (req.url === '/api/session' && req.method === 'POST')) return;
    if (req.caller === null) return reply.code(401).send({ error: 'log in first' });
  });

  await registerRoutes(app, db);
  const feed = opts.feed;
  // Live updates: the session is checked by the hooks above before the upgrade; clients only listen.
  app.get('/api/live', { websocket: true }, (socket) => {
    if (feed === undefined) { socket.send(JSON.stringify({ type: 'idle' })); socket.close(1000, 'no capture is being followed'); return; }
    if (feed.last) socket.send(JSON.stringify(feed.last));
    const off = feed.subscribe((e) => { if (socket.readyState === 1) socket.send(JSON.stringify(e)); });
    socket.on('close', off);
    socket.on('message', () => socket.close(1008, 'this feed only talks'));
  });

  if (opts.webRoot && existsSync(opts.webRoot)) {
    await app.register(fastifyStatic, { root: opts.webRoot, prefix: '/', wildcard: false });
    // The dashboard routes in the browser: unknown non-API paths get its page.
    app.setNotFoundHandler((req, reply) => (req.url.startsWith('/api/') ? reply.code(404).send({ error: 'no such endpoint' }) : reply.sendFile('index.html')));
  } else {
    app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'no such endpoint' }));
  }
  return app;
}

/** Route guard: the caller holds one of these roles, or gets 403. */
export function requireRole(roles: readonly UserRole[]) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.caller === null) { await reply.code(401).send({ error: 'log in first' }); return; }
    if (!req.caller.roles.some((r) => (roles as readonly string[]).includes(r))) {
      await reply.code(403).send({ error: `needs one of the roles ${roles.join(', ')}` });
    }
  };
}
