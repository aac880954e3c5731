import type { FastifyReply, FastifyRequest } from 'fastify';
import { isIPv4 } from 'node:net';
import type { RoutePlugin } from '../plugin.js';
import { PUBLIC, requireRole } from '../auth.js';
import { CAN } from '../../respond/roles.js';
import { activePolicy } from '../../respond/change-control.js';
import { appendAudit } from '../../store/audit-store.js';
import { DEFAULT_SETTINGS } from '../../settings/model.js';
import { NftBackend } from '../../enforce/nft-backend.js';
import { playbookTarget } from '../../enforce/playbook-backend.js';
import { readScopes } from '../../enforce/permit-scopes.js';
import { directoryFrom } from '../../permit/directories.js';
import { PermitService, type PermitOutcome } from '../../permit/service.js';
import { portalPage } from '../views/portal.js';
import { AccountDelay } from '../account-delay.js';
import { untrustedText } from '../untrusted.js';

interface AskBody {
  user: string;
  password: string;
  template: string;
  directory?: string;
  ttl_s?: number;
}

const ASK_PROPS = {
  user: { type: 'string', minLength: 1, maxLength: 128 },
  password: { type: 'string', minLength: 1, maxLength: 256 },
  template: { type: 'string', minLength: 1, maxLength: 64 },
  directory: { enum: ['ldap', 'radius'] },
  ttl_s: { type: 'integer', minimum: 1, maximum: 86400 },
} as const;

/**
 * Temporary permits for people a directory (LDAP/AD, RADIUS) vouches for, from the active policy's
 * permit_templates. The access portal (/portal) is the one public part: its form, and its submission — which
 * lets in only the address the request comes from (the peer, or the client a --trusted-proxy names; refused when
 * that address is not known), and is rate-limited per address and slowed per account
 * (AccountDelay). The API route asks for a
 * session allowed to enforce (an operator acting for a person, who still gives the person's directory
 * password). The person's outcome is audited by the permit service either way.
 */
export const permitRoutes: RoutePlugin = async (app, deps) => {
  const { db, stateDir, siteEnforcement, portalOff, trustedProxies } = deps;
  const iam = deps.iam ?? DEFAULT_SETTINGS.iam;
  const limit = { max: iam.portal.per_address_max, ms: iam.portal.per_address_s * 1000 };
  const tries = new Map<string, number[]>();
  const accounts = new AccountDelay({
    free: iam.portal.per_account_free,
    baseS: iam.portal.per_account_delay_s,
    maxS: iam.portal.per_account_delay_max_s,
  });

  /** Requests of one address within the window; beyond the maximum it waits (directory guessing is slow). */
  const throttled = (ip: string): number => {
    const now = Date.now();
    const list = (tries.get(ip) ?? []).filter((t) => t > now - limit.ms);
    if (list.length >= limit.max) {
      tries.set(ip, list);
      return Math.max(1, Math.ceil((list[0]! + limit.ms - now) / 1000));
    }
    list.push(now);
    tries.delete(ip);
    tries.set(ip, list);
    if (tries.size > 50_000) tries.delete(tries.keys().next().value!);
    return 0;
  };

  const ask = async (
    body: AskBody,
    client: string,
    via: string,
  ): Promise<PermitOutcome | { ok: false; reason: 'not_configured'; detail: string }> => {
    const active = activePolicy(db);
    let directory;
    try {
      directory = directoryFrom(iam, body.directory);
    } catch (err) {
      return { ok: false, reason: 'not_configured', detail: (err as Error).message };
    }
    if (active === null) return { ok: false, reason: 'not_configured', detail: 'no active policy' };
    const backend = (siteEnforcement ?? ((b) => b))(
      new NftBackend(playbookTarget({ stateDir }), stateDir),
    );
    try {
      return await new PermitService({
        policy: active.policy,
        directory,
        backend,
        audit: (e) => appendAudit(db, e),
      }).request({
        user: body.user,
        password: body.password,
        client,
        template: body.template,
        ttlSeconds: body.ttl_s,
        via,
      });
    } finally {
      backend.close();
    }
  };

  const templateNames = (): string[] =>
    (activePolicy(db)?.policy.permitTemplates ?? []).map((t) => t.name);

  // Urlencoded bodies only in this context: the portal form posts without any script.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const page = (reply: FastifyReply, code: number, message: string | null, ip: string) =>
    reply
      .code(code)
      .type('text/html; charset=utf-8')
      .send(portalPage({ templates: templateNames(), client: ip, message }));

  /**
   * Why this request's client address is not known, or null. A permit opens PLCs to the address: it must be the
   * person's, never a proxy's, and never one a client wrote in a header the server has no reason to believe.
   */
  const unknownClient = (req: FastifyRequest): string | null => {
    if (portalOff !== undefined) return portalOff;
    const peer = req.socket.remoteAddress;
    const forwarded =
      req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
    if (forwarded && !trustedProxies?.has(peer))
      return `this request came through a proxy (it carries X-Forwarded-For) from ${clientOf(peer ?? '?')}, which is not named with --trusted-proxy, so Weir cannot tell your address`;
    if (trustedProxies?.has(req.ip))
      return 'the proxy did not say whose request this is (no X-Forwarded-For beyond its own address)';
    return null;
  };
  const portalRefused = (reply: FastifyReply, reason: string, ip: string) =>
    page(reply, 503, `The access portal is off: ${reason}. Ask the plant security team.`, ip);

  app.get('/portal', PUBLIC, async (req, reply) => {
    const ip = clientOf(req.ip);
    const off = unknownClient(req);
    return off !== null ? portalRefused(reply, off, ip) : page(reply, 200, null, ip);
  });

  app.post<{ Body: AskBody }>(
    '/portal',
    {
      ...PUBLIC,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'password', 'template'],
          properties: { ...ASK_PROPS, ttl_s: { type: 'string', pattern: '^[0-9]{1,5}$' } },
        },
      },
    },
    async (req, reply) => {
      const ip = clientOf(req.ip);
      const off = unknownClient(req);
      if (off !== null) return portalRefused(reply, off, ip);
      const wait = throttled(ip);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        return page(reply, 429, `Too many requests from ${ip}; try again in ${wait} s.`, ip);
      }
      if (!isIPv4(ip)) return page(reply, 400, 'Permits are given to IPv4 clients only.', ip);
      // Many addresses guessing one account's password: its checks wait, and the directory never sees them.
      let kind: string;
      try {
        kind = directoryFrom(iam, req.body.directory).kind;
      } catch {
        kind = req.body.directory ?? 'none';
      }
      const account = `${kind}:${req.body.user.toLowerCase()}`;
      const slot = accounts.reserve(account, ip);
      if (!slot.ok) {
        reply.header('retry-after', String(slot.retryAfter));
        return page(
          reply,
          429,
          `Too many wrong passwords for this account; try again in ${slot.retryAfter} s.`,
          ip,
        );
      }
      const ttl = req.body.ttl_s === undefined ? undefined : Number(req.body.ttl_s);
      let out: Awaited<ReturnType<typeof ask>> | null = null;
      try {
        out = await ask({ ...req.body, ttl_s: ttl || undefined }, ip, `portal ${ip}`);
      } finally {
        const delayed = slot.done(outcomeOf(out));
        if (delayed !== null)
          appendAudit(db, {
            actor: `portal:${ip}`,
            action: 'permit.account_delayed',
            subject: untrustedText(account, 140),
            details: {
              user: untrustedText(req.body.user, 128),
              directory: kind,
              from: ip,
              wrong_in_a_row: delayed.failures,
              delay_s: delayed.delayS,
              turned_away_before: delayed.turnedAway,
            },
          });
      }
      if (out.ok)
        return page(
          reply,
          200,
          `Permitted: ${ip} may use ${out.template} for ${Math.round(out.ttlSeconds / 60)} min (until ${new Date(out.until * 1000).toISOString()}).`,
          ip,
        );
      return page(
        reply,
        out.reason === 'not_configured' ? 503 : 403,
        out.reason === 'not_configured'
          ? 'Permits are not set up on this server.'
          : 'Refused. Ask the plant security team if you think this is wrong.',
        ip,
      );
    },
  );

  app.post<{ Body: AskBody & { client: string } }>(
    '/api/permits',
    {
      preHandler: requireRole(CAN.enforce),
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'password', 'template', 'client'],
          properties: { ...ASK_PROPS, client: { type: 'string', maxLength: 15 } },
        },
      },
    },
    async (req, reply) => {
      const out = await ask(req.body, req.body.client, `api ${req.caller!.name}`);
      if (out.ok)
        return {
          user: out.user,
          template: out.template,
          ttl_s: out.ttlSeconds,
          until: out.until,
          flows: out.permits.map((p) => p.flow),
        };
      return reply
        .code(out.reason === 'not_configured' ? 503 : 403)
        .send({ error: 'refused', reason: out.reason });
    },
  );

  // The scoped permits this enforcement host knows (in force, lapsed, revoked), with who holds them.
  app.get('/api/permits', async () => {
    const now = Date.now() / 1000;
    return readScopes(stateDir).map((r) => ({
      flow: r.flow,
      user: r.user,
      directory: r.directory,
      template: r.template,
      granted_at: r.grantedAt,
      until: r.until,
      state: r.revokedAt !== undefined ? 'revoked' : r.until > now ? 'active' : 'lapsed',
      ...(r.revokedAt !== undefined ? { revoked_at: r.revokedAt, reason: r.revokeReason } : {}),
    }));
  });
};

/** What a permit request says of the password: wrong, right (the directory vouched), or nothing. */
function outcomeOf(
  out: PermitOutcome | { ok: false; reason: 'not_configured' } | null,
): 'wrong' | 'right' | 'other' {
  if (out === null) return 'other';
  if (out.ok || out.reason === 'not_in_group' || out.reason === 'enforcement_failed')
    return 'right';
  return out.reason === 'bad_credentials' ? 'wrong' : 'other';
}

/** The address a request came from, as the kernel sees it (IPv4-mapped IPv6 unwrapped). */
const clientOf = (ip: string): string => ip.replace(/^::ffff:/, '');
