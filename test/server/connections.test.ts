import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { LiveFeed } from '../../src/server/live.js';
import { addUsers, freshStore, login, portOf } from './fixture.js';

const LIMITS = {
  headersSeconds: 2,
  requestSeconds: 3,
  keepAliveSeconds: 1,
  idleSeconds: 4,
  perAddress: 40,
  maxConnections: 5000,
  heartbeatSeconds: 1,
};
let dir: string, db: Db, app: FastifyInstance, base: string, port: number;

before(async () => {
  ({ dir, db } = freshStore('weir-conns-'));
  await addUsers(db, [['ana', ['analyst']]]);
  app = await buildServer({ db, feed: new LiveFeed(), limits: LIMITS });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  port = portOf(base);
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a socket, lets `drive` talk on it, and resolves with the seconds until the server closed it. */
function secondsUntilClosed(
  drive: (s: net.Socket) => void,
  localAddress?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    const giveUp = setTimeout(() => {
      s.destroy();
      reject(new Error('the server never closed the connection'));
    }, 15_000);
    s.on('connect', () => drive(s));
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(giveUp);
      resolve((Date.now() - t0) / 1000);
    });
  });
}

/** Writes `text` one byte per second, as long as the socket is open. */
const dribble = (s: net.Socket, text: string) => {
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed || i >= text.length) {
      clearInterval(t);
      return;
    }
    s.write(text[i++]!);
  }, 1000);
};

test(
  'an idle connection, slow headers, a slow body and an idle keep-alive are each closed within the configured time',
  { timeout: 60_000 },
  async () => {
    const slack = 1.6; // the server checks its connections every half second, plus scheduling on a busy machine
    const [idle, headers, body, keepAlive] = await Promise.all([
      secondsUntilClosed(() => {}),
      secondsUntilClosed((s) =>
        dribble(
          s,
          'GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n',
        ),
      ),
      secondsUntilClosed((s) => {
        s.write(
          `POST /api/session HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`,
        );
        dribble(s, '{"user":"ana","password":"' + 'x'.repeat(170) + '"}');
      }),
      secondsUntilClosed((s) => s.write(`GET /api/me HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)),
    ]);
    assert.ok(idle <= LIMITS.headersSeconds + slack, `idle: ${idle} s`);
    assert.ok(headers <= LIMITS.headersSeconds + slack, `slow headers: ${headers} s`);
    assert.ok(
      body >= LIMITS.headersSeconds && body <= LIMITS.requestSeconds + slack,
      `slow body: ${body} s`,
    );
    assert.ok(keepAlive <= LIMITS.keepAliveSeconds + slack, `keep-alive: ${keepAlive} s`);
  },
);

test(
  '2,000 idle sockets from one address do not exhaust the server: the excess is closed at once, a real login still works',
  { timeout: 60_000 },
  async () => {
    const sockets: net.Socket[] = [];
    const held = () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      );
    await Promise.all(
      Array.from(
        { length: 2000 },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
            sockets.push(s);
            s.on('error', () => {});
            s.on('close', () => resolve());
            s.on('connect', () => resolve());
          }),
      ),
    );
    try {
      // Sampled well inside the headers timeout: what the server holds is the per-address cap, not the flood.
      let most = 0;
      for (let i = 0; i < 10; i++) {
        most = Math.max(most, await held());
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(most <= LIMITS.perAddress, `the server held ${most} connections from one address`);
      const t0 = Date.now();
      const cookie = await login(base, 'ana');
      assert.equal((await fetch(`${base}/api/me`, { headers: { cookie } })).status, 200);
      assert.ok(Date.now() - t0 < 5000, 'promptly');
    } finally {
      for (const s of sockets) s.destroy();
    }
  },
);

test(
  'a live WebSocket is long-lived: request and idle timeouts do not cut it',
  { timeout: 30_000 },
  async () => {
    const cookie = await login(base, 'ana');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/live`, {
      headers: { cookie, origin: base },
    });
    await new Promise((r, j) => {
      ws.on('open', r);
      ws.on('error', j);
    });
    let closed = false;
    ws.on('close', () => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, (LIMITS.idleSeconds + 2) * 1000));
    assert.equal(closed, false);
    ws.close();
  },
);

test('a live peer that stops answering pings is dropped', { timeout: 30_000 }, async () => {
  const cookie = await login(base, 'ana');
  // A hand-made upgrade that then goes silent: it never answers a ping (a real client does so by itself).
  const seconds = await secondsUntilClosed((s) =>
    s.write(
      [
        'GET /api/live HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Origin: ${base}`,
        `Cookie: ${cookie}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        '',
        '',
      ].join('\r\n'),
    ),
  );
  assert.ok(
    seconds >= LIMITS.heartbeatSeconds && seconds <= 3 * LIMITS.heartbeatSeconds + 1,
    `${seconds} s`,
  );
});
