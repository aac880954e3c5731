import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROUTE_PLUGINS } from '../../src/server/routes/index.js';
import { addSharedSchemas } from '../../src/server/schemas.js';
import { repoRoot } from '../helpers/paths.js';

// The compiled route files sit next to the compiled index.js this test imported.
const routesDir = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../src/server/routes',
);

test('every route file under server/routes/ is registered in routes/index.ts', async () => {
  // The sources say which files there are (dist may hold stale ones); their compiled forms are imported.
  const files = readdirSync(path.join(repoRoot, 'src/server/routes'))
    .filter((n) => n.endsWith('.ts') && n !== 'index.ts')
    .map((n) => n.replace(/\.ts$/, '.js'));
  assert.ok(files.length >= 10, `route files: ${files.join(', ')}`);
  const unregistered: string[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(routesDir, f)).href)) as Record<
      string,
      unknown
    >;
    const plugins = Object.entries(mod).filter(([, v]) => typeof v === 'function');
    assert.ok(plugins.length > 0, `${f} exports no route plugin`);
    for (const [name, fn] of plugins)
      if (!ROUTE_PLUGINS.includes(fn as never)) unregistered.push(`${f}: ${name}`);
  }
  assert.deepEqual(
    unregistered,
    [],
    'add these to ROUTE_PLUGINS in src/server/routes/index.ts (a route file exports its RoutePlugin and nothing else that runs)',
  );
});

test('every state-changing route checks a role (only logging in and out are public)', async () => {
  // Register every resource's routes into a bare instance and look at each route's own options: a POST, PUT,
  // PATCH or DELETE that forgot `preHandler: requireRole(...)` would let any session change state.
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  const seen: { route: string; guarded: boolean; public: boolean }[] = [];
  app.addHook('onRoute', (r) => {
    const methods = ([] as string[]).concat(r.method);
    if (methods.every((m) => m === 'GET' || m === 'HEAD')) return;
    seen.push({
      route: `${methods.join(',')} ${r.url}`,
      guarded: r.preHandler !== undefined,
      public: r.config?.public === true,
    });
  });
  app.decorateRequest('caller', null);
  addSharedSchemas(app);
  await app.register((await import('@fastify/websocket')).default);
  for (const plugin of ROUTE_PLUGINS)
    await app.register(plugin, { db: null as never, stateDir: '/nonexistent' });
  await app.ready();
  assert.ok(
    seen.length >= 10,
    `state-changing routes seen: ${seen.map((s) => s.route).join(', ')}`,
  );
  assert.deepEqual(
    seen.filter((s) => s.public).map((s) => s.route),
    // The access portal's form: a person proves themselves to the directory there (rate-limited per address).
    ['POST /api/session', 'DELETE /api/session', 'POST /portal'],
    'only login, logout and the access portal form may be public among state-changing routes',
  );
  assert.deepEqual(
    seen.filter((s) => !s.public && !s.guarded).map((s) => s.route),
    [],
    'these state-changing routes need preHandler: requireRole(CAN.<action>)',
  );
});
