import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../helpers/paths.js';
import { cli } from '../helpers/weir-cli.js';
import { COMMAND_MODULES, commandNamed } from '../../src/cli/program.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'weir-lazy-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** The module URLs `weir ARGS` loads (distinct, in load order). */
function modulesOf(args: string[]): string[] {
  const log = path.join(tmp, `${args.join('_').replace(/\W/g, '')}.log`);
  const hooks = path.join(repoRoot, 'dist/test/helpers/module-log-register.js');
  const r = spawnSync(process.execPath, ['--import', hooks, cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, WEIR_MODULE_LOG: log },
  });
  assert.equal(r.status, 0, `weir ${args.join(' ')}: ${r.stderr}`);
  return [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
}

test('the command table names exactly what each command module registers, and every module is in it', async () => {
  for (const m of COMMAND_MODULES) {
    const p = new Command();
    (await m.load())(p);
    assert.deepEqual(
      p.commands.map((c) => c.name()),
      [...m.names],
      `${m.names[0]}: the table must list the module's top-level commands`,
    );
  }
  const names = COMMAND_MODULES.flatMap((m) => m.names);
  assert.equal(new Set(names).size, names.length, 'no command in two modules');
  const files = readdirSync(path.join(repoRoot, 'src/cli/commands')).filter((f) =>
    f.endsWith('.ts'),
  );
  assert.equal(COMMAND_MODULES.length, files.length, 'one table row per command module');
});

test('the command named on the line is found past global options', () => {
  assert.equal(
    commandNamed(['node', 'weir', '--config', 'x.yaml', 'gateway', '--listen', '1']),
    'gateway',
  );
  assert.equal(commandNamed(['node', 'weir', '--audit-key', 'k', 'serve']), 'serve');
  assert.equal(commandNamed(['node', 'weir', '--audit-key=k', 'detect', 'f']), 'detect');
  assert.equal(commandNamed(['node', 'weir', '--help']), null);
});

test('`weir gateway` opens only its own modules: no fleet, directory, dashboard or NATS code before it listens', () => {
  const gateway = modulesOf(['gateway', '--help']);
  const all = modulesOf(['--help']);
  for (const banned of [
    '/node_modules/nats/',
    '/node_modules/ldapts/',
    '/node_modules/radius/',
    '/node_modules/fastify/',
    '/src/server/app.js',
    '/src/server/routes/',
    '/src/fleet/manager',
    '/src/fleet/node-runtime',
    '/src/deceive/',
  ])
    assert.ok(!gateway.some((u) => u.includes(banned)), `gateway loaded ${banned}`);
  assert.ok(
    gateway.length * 2 < all.length,
    `gateway loads ${gateway.length} modules, the whole tree ${all.length}`,
  );
  // Help without a command and an unknown command still see every command.
  const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  for (const name of COMMAND_MODULES.flatMap((m) => m.names))
    assert.match(r.stdout, new RegExp(`\\n  ${name}\\b`));
  const typo = spawnSync(process.execPath, [cli, 'gatway'], { encoding: 'utf8' });
  assert.notEqual(typo.status, 0);
  assert.match(typo.stderr, /Did you mean gateway\?/);
});
