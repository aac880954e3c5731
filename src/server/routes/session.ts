import type { RoutePlugin } from '../plugin.js';
import { deleteSession } from '../../store/session-store.js';
import { PUBLIC, SESSION_COOKIE } from '../auth.js';
import { LoginThrottle } from '../login-throttle.js';
import { logIn, SESSION_SECONDS } from '../login.js';
import { tokenHash } from '../passwords.js';

/**
 * Logging in and out, the only API routes open to callers without a session; and who the caller is.
 * The cookie is HttpOnly, SameSite=Strict, and Secure whenever the server is reached over HTTPS.
 */
export const sessionRoutes: RoutePlugin = async (app, { db, secureCookies = false }) => {
  const throttle = new LoginThrottle();
  const cookie = { path: '/', httpOnly: true, sameSite: 'strict', secure: secureCookies } as const;

  app.get('/api/me', async (req) => req.caller);

  app.post<{ Body: { user: string; password: string } }>(
    '/api/session',
    {
      ...PUBLIC,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'password'],
          properties: {
            user: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const r = await logIn(db, throttle, { ip: req.ip, ...req.body });
      if (!r.ok && r.throttled)
        return reply
          .code(429)
          .header('retry-after', String(r.retryAfter))
          .send({ error: `too many failed logins; try again in ${r.retryAfter} s` });
      if (!r.ok) return reply.code(401).send({ error: 'wrong user or password' });
      reply.setCookie(SESSION_COOKIE, r.token, { ...cookie, maxAge: SESSION_SECONDS });
      return { name: r.name, roles: r.roles };
    },
  );

  // Public so that a stale cookie can always be cleared.
  app.delete('/api/session', PUBLIC, async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) deleteSession(db, tokenHash(token));
    reply.clearCookie(SESSION_COOKIE, cookie);
    return { ok: true };
  });
};
