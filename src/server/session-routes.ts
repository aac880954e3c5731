import type { FastifyInstance } from 'fastify';
import type { Db } from '../store/db.js';
import { userRoles } from '../store/change-store.js';
import { createSession, deleteSession, passwordHash } from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import { newToken, tokenHash, verifyPassword } from './passwords.js';
import { PUBLIC, SESSION_COOKIE } from './access.js';

const SESSION_SECONDS = 8 * 3600;
/** Failed logins per address per minute before the server stops checking passwords for it. */
const LOGIN_FAILURES = 10;

/** Logging in and out: the only API routes open to callers without a session. */
export function registerSessionRoutes(app: FastifyInstance, db: Db, opts: { secureCookies: boolean }): void {
  const failures = new Map<string, { n: number; since: number }>();

  app.post('/api/session', {
    ...PUBLIC,
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
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', secure: opts.secureCookies, maxAge: SESSION_SECONDS });
    return { name: user, roles: userRoles(db, user) ?? [] };
  });

  // Public so that a stale cookie can always be cleared.
  app.delete('/api/session', PUBLIC, async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) deleteSession(db, tokenHash(token));
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: opts.secureCookies });
    return { ok: true };
  });
}
