import type { FastifyInstance } from 'fastify';
import type { Db } from '../store/db.js';
import { userRoles } from '../store/change-store.js';
import {
  createSession,
  deleteSession,
  passwordHash,
  upgradePasswordHash,
} from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import {
  DUMMY_HASH,
  hashPassword,
  needsRehash,
  newToken,
  tokenHash,
  verifyPassword,
} from './passwords.js';
import { LoginThrottle, type LoginLimits } from './login-throttle.js';
import { DEFAULT_SETTINGS } from '../settings/model.js';
import { untrustedText } from './untrusted.js';
import { PUBLIC, SESSION_COOKIE } from './access.js';

/** Logging in and out: the only API routes open to callers without a session. */
export function registerSessionRoutes(
  app: FastifyInstance,
  db: Db,
  opts: { secureCookies: boolean; sessionSeconds?: number; loginLimits?: LoginLimits },
): void {
  const throttle = new LoginThrottle(opts.loginLimits);
  const SESSION_SECONDS = opts.sessionSeconds ?? DEFAULT_SETTINGS.server.session_s;

  app.post(
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
      const { user, password } = req.body as { user: string; password: string };
      const slot = throttle.reserve(req.ip, user);
      if (!slot.ok) {
        reply.header('retry-after', String(slot.retryAfter));
        return reply
          .code(429)
          .send({ error: `too many failed logins; try again in ${slot.retryAfter} s` });
      }
      const stored = passwordHash(db, user);
      // Hash even for unknown users, so timing does not tell which names exist.
      let ok: boolean;
      try {
        ok = (await verifyPassword(password, stored ?? DUMMY_HASH)) && stored !== null;
      } catch (err) {
        slot.release(); // not checked (the server is busy): not a failure
        throw err;
      }
      if (!ok || stored === null) {
        // The name is the client's claim, not an identity: never the actor, and escaped where it is kept.
        const claimedUser = untrustedText(user);
        appendAudit(db, {
          actor: 'unauthenticated',
          action: 'login.failed',
          subject: req.ip,
          details: { claimedUser },
        });
        if (slot.filled.length)
          appendAudit(db, {
            actor: 'unauthenticated',
            action: 'login.throttled',
            subject: req.ip,
            details: { claimedUser, by: slot.filled },
          });
        return reply.code(401).send({ error: 'wrong user or password' });
      }
      slot.release();
      if (needsRehash(stored)) upgradePasswordHash(db, user, stored, await hashPassword(password));
      const now = Date.now() / 1000;
      const { token, hash } = newToken();
      createSession(db, hash, user, now + SESSION_SECONDS);
      appendAudit(db, { actor: user, action: 'login', subject: req.ip, details: {} });
      reply.setCookie(SESSION_COOKIE, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: opts.secureCookies,
        maxAge: SESSION_SECONDS,
      });
      return { name: user, roles: userRoles(db, user) ?? [] };
    },
  );

  // Public so that a stale cookie can always be cleared.
  app.delete('/api/session', PUBLIC, async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) deleteSession(db, tokenHash(token));
    reply.clearCookie(SESSION_COOKIE, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: opts.secureCookies,
    });
    return { ok: true };
  });
}
