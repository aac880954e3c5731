import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../store/db.js';
import { sessionOf } from '../store/session-store.js';
import type { UserRole } from '../respond/roles.js';
import { tokenHash } from './passwords.js';

export const SESSION_COOKIE = 'weir_session';

export interface Caller {
  name: string;
  roles: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
  // A route is closed to callers without a session unless its config says `public: true`.
  interface FastifyContextConfig {
    public?: boolean;
  }
}

/** Route config of the few routes anyone may call: logging in and out, the dashboard's own files. */
export const PUBLIC = { config: { public: true } } as const;

/**
 * Default deny, decided on the route the router matched, never on the spelling of the URL: every route —
 * inside /api or not, the WebSocket included, and any added later — needs a session unless it is public.
 * Unmatched requests fall to the not-found handler, which returns no data.
 */
export function installSessionGate(app: FastifyInstance, db: Db): void {
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) req.caller = sessionOf(db, tokenHash(token));
    if (req.caller === null && !req.is404 && req.routeOptions.config.public !== true) {
      return reply.code(401).send({ error: 'log in first' });
    }
  });
}

/** Route guard: the caller holds one of these roles, or gets 403. */
export function requireRole(roles: readonly UserRole[]) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.caller === null) {
      await reply.code(401).send({ error: 'log in first' });
      return;
    }
    if (!req.caller.roles.some((r) => (roles as readonly string[]).includes(r))) {
      await reply.code(403).send({ error: `needs one of the roles ${roles.join(', ')}` });
    }
  };
}
