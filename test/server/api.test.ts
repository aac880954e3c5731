import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore, type Db } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { applyProposal, approveProposal, submitPolicy } from '../../src/respond/change-control.js';
import { repoRoot } from '../helpers/paths.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { addUsers, injectLogin, PASSWORD } from './fixture.js';

const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const plant = path.join(repoRoot, 'fixtures/plant.pcap');
let dir: string, db: Db, app: FastifyInstance;
const cookies = new Map<string, string>();

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'weir-api-'));
  const file = detectedPlantStore(dir);
  db = openStore(file);
  await addUsers(db, [
    ['vera', ['viewer']],
    ['ana', ['analyst']],
    ['sec', ['security']],
    ['eng', ['engineering']],
    ['ops', ['operations']],
    ['root', ['admin']],
  ]);
  app = await buildServer({ db });
  for (const name of ['vera', 'ana', 'sec', 'eng', 'ops', 'root'])
    cookies.set(name, await injectLogin(app, name));
});

after(async () => {
  await app.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const as = (user: string) => ({ cookie: cookies.get(user)! });
const get = (user: string | null, url: string) =>
  app.inject({ method: 'GET', url, headers: user ? as(user) : {} });
const post = (user: string | null, url: string, payload: unknown = {}) =>
  app.inject({
    method: 'POST',
    url,
    payload: payload as Record<string, unknown>,
    headers: user ? as(user) : {},
  });
const READS = [
  '/api/me',
  '/api/overview',
  '/api/flows',
  '/api/assets',
  '/api/assets?q=plc&limit=5',
  '/api/map',
  '/api/detections',
  '/api/detections?status=open&severity=critical',
  '/api/policy',
  '/api/simulations',
  '/api/proposals',
  '/api/audit',
  '/api/permits',
  '/api/sites',
  '/api/sites/plant-a/detections',
];

test('without a session every endpoint answers 401; wrong passwords get 401 and then 429', async () => {
  for (const url of [...READS, '/api/users'])
    assert.equal((await get(null, url)).statusCode, 401, url);
  assert.equal((await post(null, '/api/detections/x/acknowledge')).statusCode, 401);
  assert.equal(
    (await post(null, '/api/session', { user: 'ana', password: 'wrong' })).statusCode,
    401,
  );
  assert.equal(
    (await post(null, '/api/session', { user: 'nobody', password: 'wrong' })).statusCode,
    401,
  );
  const forged = await app.inject({
    method: 'GET',
    url: '/api/me',
    headers: { cookie: 'weir_session=forged-token' },
  });
  assert.equal(forged.statusCode, 401);
  let last = 0;
  for (let i = 0; i < 12; i++)
    last = (
      await app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { user: 'ana', password: 'nope' },
        remoteAddress: '10.9.9.9',
      })
    ).statusCode;
  assert.equal(last, 429);
});

test('every read endpoint answers a viewer with real data; admin-only and change endpoints refuse a viewer', async () => {
  for (const url of READS) assert.equal((await get('vera', url)).statusCode, 200, url);
  const ov = (await get('vera', '/api/overview')).json() as {
    assets: number;
    edges: number;
    openDetections: number;
    health: string;
  };
  assert.equal(ov.assets, 7);
  assert.ok(ov.edges > 100 && ov.openDetections > 0);
  assert.match(ov.health, /open detection/);
  const assets = (await get('vera', '/api/assets?q=SNAP7')).json() as {
    total: number;
    items: Array<{ id: string; role: string }>;
  };
  assert.deepEqual(
    assets.items.map((a) => [a.id, a.role]),
    [['10.77.0.22', 'plc']],
  );
  const page = (await get('vera', '/api/assets/10.77.0.21')).json() as {
    asset: { role: string };
    edges: unknown[];
    detections: unknown[];
  };
  assert.equal(page.asset.role, 'plc');
  assert.ok(page.edges.length > 0 && page.detections.length > 0);
  const map = (await get('vera', '/api/map?limit=5')).json() as {
    nodes: unknown[];
    edges: Array<{ client: string; server: string; services: number }>;
    totalPairs: number;
  };
  assert.ok(map.nodes.length > 0 && map.edges.length === 5 && map.totalPairs > 5);
  const all = (await get('vera', '/api/map')).json() as typeof map;
  assert.ok(
    all.edges.find((e) => e.client === '10.77.0.66' && e.server === '10.77.0.21')!.services > 100,
    'the scan is one line with its many ports',
  );
  const hmi = all.edges.find(
    (e) => e.client === '10.77.0.10' && e.server === '10.77.0.21',
  ) as unknown as { functions: string[] };
  assert.deepEqual(
    hmi.functions.slice(0, 2).sort(),
    ['READ_COILS', 'READ_HOLDING_REGISTERS'],
    'lines name the functions they carry',
  );
  const flows = (await get('vera', '/api/flows')).json() as {
    buckets: number[];
    zones: Record<string, { within: number[] }>;
  };
  assert.ok(
    flows.buckets.length >= 1 && flows.zones.plant!.within.reduce((a, b) => a + b, 0) > 1500,
    'discover --db recorded the traffic per minute',
  );
  assert.equal((await get('vera', '/api/users')).statusCode, 403);
  const d = ((await get('vera', '/api/detections')).json() as { items: Array<{ id: string }> })
    .items[0]!;
  assert.equal((await post('vera', `/api/detections/${d.id}/acknowledge`)).statusCode, 403);
  assert.equal(
    (await post('eng', `/api/detections/${d.id}/mute`, { reason: 'x' })).statusCode,
    403,
  );
});

test('an analyst acknowledges, learns and mutes detections; each step is audited', async () => {
  const list = (
    (await get('ana', '/api/detections?status=open')).json() as {
      items: Array<{ id: string; type: string }>;
    }
  ).items;
  const edge = list.find((x) => x.type === 'new_edge')!,
    scan = list.find((x) => x.type === 'port_scan')!,
    stop = list.find((x) => x.type === 'cpu_stop')!;
  assert.equal(
    (
      await post('ana', `/api/detections/${stop.id}/acknowledge`, {
        note: 'planned stop, change 4711',
      })
    ).statusCode,
    200,
  );
  const learned = await post('ana', `/api/detections/${edge.id}/learn`, {
    note: 'new historian link',
    confirm: true,
  });
  assert.equal(learned.statusCode, 200, learned.body);
  assert.equal((learned.json() as { version: number }).version, 2);
  assert.equal(
    (await post('ana', `/api/detections/${scan.id}/learn`)).statusCode,
    409,
    'a scan is an event: mute it, do not learn it',
  );
  assert.equal(
    (await post('ana', `/api/detections/${scan.id}/mute`, { reason: 'pen test week', days: 7 }))
      .statusCode,
    200,
  );
  const statuses = (
    (await get('ana', '/api/detections')).json() as { items: Array<{ id: string; status: string }> }
  ).items;
  assert.deepEqual(
    [stop, edge, scan].map((x) => statuses.find((s) => s.id === x.id)!.status),
    ['acknowledged', 'learned', 'muted'],
  );
  const audit = (await get('ana', '/api/audit')).json() as {
    items: Array<{ actor: string; action: string }>;
    chain: string;
  };
  for (const a of ['detection.acknowledged', 'detection.learned', 'detection.muted'])
    assert.ok(
      audit.items.some((e) => e.actor === 'ana' && e.action === a),
      a,
    );
  assert.equal(audit.chain, 'intact');
});

test("propose block: needs an active policy, then the protected zone's roles approve it", async () => {
  const d = (
    (await get('ana', '/api/detections')).json() as { items: Array<{ id: string; type: string }> }
  ).items.find((x) => x.type === 'new_asset')!;
  assert.equal(
    (await post('ana', `/api/detections/${d.id}/propose-block`, { ttl: 3600 })).statusCode,
    409,
  );
  const policy = `weir: policy/1
zones:
  - { name: control, members: [10.77.0.21, 10.77.0.22], approvals: [security, operations] }
`;
  const p = submitPolicy(db, { text: policy, source: 'plant.yaml', actor: 'eng' });
  approveProposal(db, { id: p, actor: 'sec', role: 'security' });
  approveProposal(db, { id: p, actor: 'ops', role: 'operations' });
  applyProposal(db, { id: p, actor: 'eng' });
  const r = await post('ana', `/api/detections/${d.id}/propose-block`, {
    ttl: 3600,
    note: 'intruder',
  });
  assert.equal(r.statusCode, 200, r.body);
  const id = (r.json() as { proposal: number }).proposal;
  assert.equal(
    (await post('ana', `/api/proposals/${id}/approve`, { role: 'security' })).statusCode,
    403,
    'ana holds no approving role: refused at the route',
  );
  assert.equal(
    (await post('sec', `/api/proposals/${id}/approve`, { role: 'security' })).statusCode,
    200,
  );
  const done = await post('ops', `/api/proposals/${id}/approve`, { role: 'operations' });
  assert.deepEqual(done.json(), { status: 'approved' });
  // Applying an approved block changes no policy; it hands the block to the enforcement host.
  // The analyst learned this source's flow into the baseline above, so cutting it needs an explicit confirmation.
  assert.throws(() => applyProposal(db, { id, actor: 'sec' }), /cuts 1 baseline flow/);
  assert.deepEqual(applyProposal(db, { id, actor: 'sec', confirmCutsBaseline: true }).block, {
    ip: '10.77.0.66',
    ttl: 3600,
  });
  const other = (
    await post('ana', `/api/detections/${d.id}/propose-block`, { ttl: 600 })
  ).json() as { proposal: number };
  assert.equal((await post('vera', `/api/proposals/${other.proposal}/reject`)).statusCode, 403);
  assert.equal(
    (await post('sec', `/api/proposals/${other.proposal}/reject`, { note: 'duplicate' }))
      .statusCode,
    200,
  );
  assert.equal(
    (await post('sec', `/api/proposals/${other.proposal}/approve`, { role: 'security' }))
      .statusCode,
    409,
    'a rejected proposal takes no approvals',
  );
  const props = (await get('vera', '/api/proposals')).json() as {
    items: Array<{ id: number; kind: string; doc: { ip: string } }>;
  };
  assert.equal(props.items.find((x) => x.id === id)!.doc.ip, '10.77.0.66');
  assert.equal(
    ((await get('vera', '/api/overview')).json() as { zones: unknown[] }).zones.length,
    1,
  );
});

test('simulations recorded by the CLI are listed and shown flow by flow; logging out ends the session', async () => {
  const policyFile = path.join(dir, 'p.yaml');
  execFileSync(
    process.execPath,
    [cli, 'policy', 'propose', '--baseline', path.join(dir, 'weir.db'), '--out', policyFile],
    { stdio: 'ignore' },
  );
  execFileSync(
    process.execPath,
    [
      cli,
      'policy',
      'simulate',
      policyFile,
      '--capture',
      plant,
      '--from',
      '50%',
      '--db',
      path.join(dir, 'weir.db'),
      '--baseline',
      path.join(dir, 'weir.db'),
      '--as',
      'eng',
      '--password-stdin',
    ],
    { input: `${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  const list = (await get('vera', '/api/simulations')).json() as {
    items: Array<{ id: string; blockedFlows: number }>;
  };
  assert.equal(list.items.length, 1);
  const sim = (await get('vera', `/api/simulations/${list.items[0]!.id}`)).json() as {
    blocked: Array<{ client: string }>;
  };
  assert.ok(sim.blocked.some((b) => b.client === '10.77.0.66'));
  assert.equal((await get('vera', '/api/simulations/sim-000000000000')).statusCode, 404);
  const login = await post(null, '/api/session', { user: 'vera', password: PASSWORD });
  const cookie = `weir_session=${login.cookies.find((c) => c.name === 'weir_session')!.value}`;
  assert.equal(
    (await app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } })).statusCode,
    200,
  );
  assert.equal(
    (await app.inject({ method: 'GET', url: '/api/me', headers: { cookie } })).statusCode,
    401,
    'the token is dead on the server, not just forgotten by the browser',
  );
});

test('an admin adds users; passwords are checked and never echoed', async () => {
  assert.equal(
    (
      await post('sec', '/api/users', {
        name: 'x',
        roles: ['viewer'],
        password: 'long enough password',
      })
    ).statusCode,
    403,
  );
  assert.equal(
    (await post('root', '/api/users', { name: 'newbie', roles: ['viewer'], password: 'short' }))
      .statusCode,
    400,
  );
  assert.equal(
    (
      await post('root', '/api/users', {
        name: 'newbie',
        roles: ['wizard'],
        password: 'long enough password',
      })
    ).statusCode,
    400,
  );
  const ok = await post('root', '/api/users', {
    name: 'newbie',
    roles: ['viewer'],
    password: 'long enough password',
  });
  assert.equal(ok.statusCode, 200);
  assert.doesNotMatch(ok.body, /long enough/);
  const users = (await get('root', '/api/users')).json() as {
    items: Array<{ name: string; hasPassword: boolean }>;
  };
  assert.ok(users.items.find((u) => u.name === 'newbie')!.hasPassword);
  assert.doesNotMatch(JSON.stringify(users), /scrypt/);
  assert.equal(
    (await post(null, '/api/session', { user: 'newbie', password: 'long enough password' }))
      .statusCode,
    200,
  );
});

test('hostile input gets 4xx, never 500', async () => {
  const ids = [
    "' OR 1=1 --",
    '../../etc/passwd',
    '%00',
    'x'.repeat(5000),
    '<script>alert(1)</script>',
    '١٢٣',
    'a;DROP TABLE detections',
    '${jndi:ldap://x}',
  ];
  for (const raw of ids) {
    const e = encodeURIComponent(raw);
    for (const url of [`/api/assets/${e}`, `/api/simulations/${e}`]) {
      const r = await get('root', url);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url}: ${r.statusCode}`);
    }
    for (const url of [
      `/api/detections/${e}/acknowledge`,
      `/api/detections/${e}/mute`,
      `/api/proposals/${e}/approve`,
    ]) {
      const r = await post('root', url, { reason: raw, role: raw, note: raw });
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url}: ${r.statusCode} ${r.body}`);
    }
    const q = await get('root', `/api/assets?q=${e}&limit=10`);
    assert.equal(
      q.statusCode,
      raw.length <= 200 ? 200 : 400,
      'search text is data, not SQL (and has a length limit)',
    );
  }
  const bad: Array<[string, string, Record<string, string>, string | undefined]> = [
    [
      'POST',
      '/api/session',
      { 'content-type': 'application/json' },
      '{"user": "ana", "password": ',
    ],
    [
      'POST',
      '/api/session',
      { 'content-type': 'application/json' },
      JSON.stringify({ user: 'ana', password: 'x'.repeat(200_000) }),
    ],
    ['POST', '/api/session', { 'content-type': 'text/plain' }, 'user=ana'],
    [
      'POST',
      '/api/session',
      { 'content-type': 'application/json' },
      JSON.stringify({ user: { $ne: null }, password: PASSWORD }),
    ],
    ['GET', '/api/assets?limit=abc', as('root'), undefined],
    ['GET', '/api/assets?limit=100000000', as('root'), undefined],
    ['GET', '/api/detections?status=bogus', as('root'), undefined],
    ['GET', '/api/assets?offset=-1', as('root'), undefined],
    ['POST', '/api/detections/x/mute', { ...as('root'), 'content-type': 'application/json' }, '[]'],
    [
      'POST',
      '/api/users',
      { ...as('root'), 'content-type': 'application/json' },
      JSON.stringify({
        name: 'a',
        roles: ['admin'],
        password: 'long enough password',
        __proto__: { admin: true },
      }),
    ],
    ['GET', '/api/nope', as('root'), undefined],
  ];
  for (const [method, url, headers, payload] of bad) {
    const r = await app.inject({ method: method as 'GET' | 'POST', url, headers, payload });
    assert.ok(
      (r.statusCode >= 400 && r.statusCode < 500) || (url === '/api/users' && r.statusCode === 200),
      `${method} ${url}: ${r.statusCode} ${r.body.slice(0, 200)}`,
    );
  }
  // Random bytes in paths and bodies.
  let seed = 11;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let i = 0; i < 200; i++) {
    const s = Buffer.from(
      Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)),
    ).toString('latin1');
    const r = await app.inject({
      method: 'POST',
      url: `/api/detections/${encodeURIComponent(s)}/acknowledge`,
      headers: { ...as('ana'), 'content-type': 'application/json' },
      payload: s,
    });
    assert.ok(r.statusCode < 500, `${JSON.stringify(s)}: ${r.statusCode}`);
  }
});
