// Review 14, L7: behind a reverse proxy every request comes from the proxy's address. Only a proxy the operator
// names has its X-Forwarded-For believed; without one, a server told it sits behind TLS it does not serve keeps
// the access portal off rather than permit the proxy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { TrustedProxies } from '../../src/server/proxy.js';
import { listAudit } from '../../src/store/audit-store.js';
import { addUsers, freshStore, PASSWORD, portOf } from './fixture.js';

const store = freshStore('weir-proxy-');
await addUsers(store.db, [['ana', ['analyst']]]);
const apps: FastifyInstance[] = [];
after(async () => {
  for (const a of apps) await a.close();
  store.db.close();
  rmSync(store.dir, { recursive: true, force: true });
});

const PROXY = '10.77.0.1';
const limits = { perAddress: { max: 3, seconds: 60 }, perAccount: { max: 1000, seconds: 60 } };

async function server(o: Partial<ServerOptions>): Promise<FastifyInstance> {
  const app = await buildServer({ db: store.db, loginLimits: limits, ...o } as ServerOptions);
  apps.push(app);
  return app;
}

const logIn = (
  app: FastifyInstance,
  from: string,
  password: string,
  forwardedFor?: string,
  user = 'ana',
) =>
  app.inject({
    method: 'POST',
    url: '/api/session',
    remoteAddress: from,
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    payload: { user, password },
  });

test('behind a named proxy, one guesser is throttled by its own address, not everyone behind the proxy', async () => {
  const app = await server({ secureCookies: true, trustedProxies: new TrustedProxies([PROXY]) });
  for (let i = 0; i < 3; i++)
    assert.equal((await logIn(app, PROXY, 'wrong', '10.9.9.1')).statusCode, 401);
  assert.equal((await logIn(app, PROXY, 'wrong', '10.9.9.1')).statusCode, 429);
  // A client-written address in front of the proxy's own entry changes nothing: the rightmost is believed.
  assert.equal((await logIn(app, PROXY, 'wrong', '10.1.1.1, 10.9.9.1')).statusCode, 429);
  const ok = await logIn(app, PROXY, PASSWORD, '10.9.9.2');
  assert.equal(ok.statusCode, 200, 'the guesser locked out another person behind the proxy');
  const last = listAudit(store.db)
    .filter((e) => e.action === 'login')
    .at(-1)!;
  assert.equal(last.subject, '10.9.9.2', 'the audit log names the person, not the proxy');
});

test("anyone else's X-Forwarded-For is ignored: a guesser cannot pick a fresh address per guess", async () => {
  const app = await server({ trustedProxies: new TrustedProxies([PROXY]) });
  for (let i = 0; i < 3; i++)
    assert.equal((await logIn(app, '10.5.5.5', 'wrong', `10.9.8.${i}`)).statusCode, 401);
  assert.equal((await logIn(app, '10.5.5.5', 'wrong', '10.9.8.99')).statusCode, 429);
});

test('the portal permits only an address it can vouch for', async () => {
  // --secure-cookies without TLS and no named proxy: every portal request would be the proxy's.
  const blind = await server({ secureCookies: true });
  for (const method of ['GET', 'POST'] as const) {
    const r = await blind.inject({
      method,
      url: '/portal',
      remoteAddress: PROXY,
      ...(method === 'POST'
        ? {
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: 'user=ana&password=x&template=vendor',
          }
        : {}),
    });
    assert.equal(r.statusCode, 503, `${method} /portal: ${r.body.slice(0, 200)}`);
    assert.match(r.body, /portal is off: this server sits behind a TLS proxy/);
    assert.match(r.body, /--trusted-proxy/);
  }

  const named = await server({ secureCookies: true, trustedProxies: new TrustedProxies([PROXY]) });
  const through = await named.inject({
    method: 'GET',
    url: '/portal',
    remoteAddress: PROXY,
    headers: { 'x-forwarded-for': '10.9.9.7' },
  });
  assert.equal(through.statusCode, 200);
  assert.match(through.body, /10\.9\.9\.7/);
  assert.doesNotMatch(through.body, /10\.77\.0\.1/);
  // The proxy's own request (no client named) and a client's hand-written header from elsewhere: refused.
  const bare = await named.inject({ method: 'GET', url: '/portal', remoteAddress: PROXY });
  assert.equal(bare.statusCode, 503);
  assert.match(bare.body, /the proxy did not say whose request this is/);
  const forged = await named.inject({
    method: 'GET',
    url: '/portal',
    remoteAddress: '10.5.5.5',
    headers: { 'x-forwarded-for': '10.9.9.7' },
  });
  assert.equal(forged.statusCode, 503);
  assert.match(forged.body, /not named with --trusted-proxy/);

  // A server reached directly keeps its portal.
  const direct = await server({});
  const d = await direct.inject({ method: 'GET', url: '/portal', remoteAddress: '10.9.9.8' });
  assert.equal(d.statusCode, 200);
});

test('a trusted proxy is an address or a CIDR range, or a clear error', () => {
  assert.ok(new TrustedProxies(['10.0.0.0/8', '::1', ' 192.168.1.2 ']).has('::ffff:10.3.4.5'));
  assert.equal(TrustedProxies.parse('', []).any, false);
  assert.deepEqual(TrustedProxies.parse('10.0.0.1, 10.0.0.2', ['10.0.0.3']).names, ['10.0.0.3']);
  assert.throws(() => new TrustedProxies(['proxy.plant.local']), /not an IP address or CIDR/);
  assert.throws(() => new TrustedProxies(['10.0.0.0/33']), /too long/);
});

test("the named proxy carries everyone's connections: the per-address cap does not apply to it", async () => {
  const app = await server({
    trustedProxies: new TrustedProxies(['127.0.0.2']),
    limits: { perAddress: 3 },
  });
  const port = portOf(await app.listen({ host: '127.0.0.1', port: 0 }));
  /** How many of `n` sockets from `from` are still open after a moment. */
  const held = async (from: string, n: number): Promise<number> => {
    const socks = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect({ port, host: '127.0.0.1', localAddress: from }, () =>
              resolve(s),
            );
            s.on('error', () => {});
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const open = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
    for (const s of socks) s.destroy();
    return open;
  };
  assert.equal(await held('127.0.0.2', 8), 8);
  assert.equal(await held('127.0.0.3', 8), 3);
});
