import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { buildServer } from '../../src/server/app.js';
import { addUsers, freshStore, PASSWORD } from './fixture.js';

const ip = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

test(
  "a map of 40,000 distinct addresses (above SQLite's 32,766 bound variables) and an asset with 40,000 addresses",
  { timeout: 120_000 },
  async () => {
    const { dir, db } = freshStore('weir-map-scale-');
    try {
      await addUsers(db, [['vera', ['viewer']]]);
      const asset = db.prepare(
        'INSERT INTO assets (id, role, first_seen, last_seen, doc) VALUES (?, ?, 0, 0, ?)',
      );
      const edge = db.prepare(
        "INSERT INTO edges (id, client, server, transport, port, protocol, packets, bytes, first_seen, last_seen, doc) VALUES (?, ?, ?, 'tcp', 502, 'modbus', ?, 0, 0, 0, ?)",
      );
      db.transaction(() => {
        for (let i = 0; i < 40_000; i++)
          asset.run(
            ip(i),
            i % 2 ? 'hmi' : 'plc',
            JSON.stringify({
              id: ip(i),
              ips: [ip(i)],
              hostnames: [`h${i}`],
              role: i % 2 ? 'hmi' : 'plc',
            }),
          );
        for (let i = 0; i < 20_000; i++) {
          const [c, s] = [ip(2 * i + 1), ip(2 * i)];
          edge.run(
            `${c}>${s}`,
            c,
            s,
            40_000 - i,
            JSON.stringify({ id: `${c}>${s}`, client: c, server: s, functions: [] }),
          );
        }
        // One device that claims 40,000 addresses (hostile ARP, a NAT box): its page still opens.
        const many = Array.from({ length: 40_000 }, (_, i) => `172.16.${i >> 8}.${i & 255}`);
        asset.run(
          'aa:bb:cc:dd:ee:ff',
          'unknown',
          JSON.stringify({ id: 'aa:bb:cc:dd:ee:ff', ips: many, hostnames: [], role: 'unknown' }),
        );
      })();
      const app = await buildServer({ db });
      try {
        const login = await app.inject({
          method: 'POST',
          url: '/api/session',
          payload: { user: 'vera', password: PASSWORD },
        });
        const cookie = `weir_session=${login.cookies.find((c) => c.name === 'weir_session')!.value}`;
        const r = await app.inject({
          method: 'GET',
          url: '/api/map?limit=20000',
          headers: { cookie },
        });
        assert.equal(r.statusCode, 200, r.body.slice(0, 200));
        const map = r.json() as {
          totalPairs: number;
          nodes: Array<{ id: string; role: string; name: string | null }>;
          edges: unknown[];
        };
        assert.equal(map.totalPairs, 20_000);
        assert.equal(map.edges.length, 20_000);
        assert.equal(map.nodes.length, 40_000);
        assert.ok(
          map.nodes.every(
            (n) => n.role === (Number(n.id.split('.')[3]) % 2 ? 'hmi' : 'plc') && n.name !== null,
          ),
          'every node found its asset',
        );
        const page = await app.inject({
          method: 'GET',
          url: '/api/assets/aa:bb:cc:dd:ee:ff',
          headers: { cookie },
        });
        assert.equal(page.statusCode, 200, page.body.slice(0, 200));
      } finally {
        await app.close();
      }
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
