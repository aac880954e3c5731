import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { repoRoot } from '../helpers/paths.js';
import { cli, weir } from '../helpers/weir-cli.js';
import { buildProgram } from '../../src/cli/program.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

/** A real shell pipeline into `head -1`: the exit status of weir itself, and what it wrote to stderr. */
function intoHead(args: string[]): { status: number; stderr: string; first: string } {
  const quoted = [process.execPath, cli, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${quoted} 2>"$ERR" | head -1; exit "\${PIPESTATUS[0]}"`], {
    encoding: 'utf8',
    env: { ...process.env, ERR: path.join(tmp, 'stderr') },
  });
  return {
    status: r.status ?? -1,
    stderr: spawnSync('cat', [path.join(tmp, 'stderr')], { encoding: 'utf8' }).stdout,
    first: r.stdout,
  };
}
const tmp = mkdtempSync(path.join(tmpdir(), 'weir-honest-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('output piped into `head -1` ends cleanly: exit 0, no EPIPE stack trace', async () => {
  const db = path.join(tmp, 'pipe.db');
  await weir(['discover', plant, '--db', db]);
  await weir(['learn', plant, '--db', db, '--until', '50%']);
  for (const args of [
    ['dissect', plant],
    ['dissect', plant, '--all', '--jsonl'],
    ['discover', plant, '--json'],
    ['discover', plant],
    ['detect', plant, '--baseline', db, '--jsonl', '--no-save'],
    ['baseline', 'show', '--db', db],
  ]) {
    const r = intoHead(args);
    assert.equal(r.stderr, '', `weir ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.status, 0, `weir ${args.join(' ')} exit`);
    assert.ok(r.first.length > 0, `weir ${args.join(' ')} printed its first line`);
  }
});

test('every command and subcommand has a description, every option a help text, and --help works', async () => {
  const missing: string[] = [];
  const walk = (c: Command, trail: string[]): void => {
    const name = [...trail, c.name()].join(' ');
    if (!c.description()) missing.push(`${name}: no description`);
    for (const o of c.options) if (!o.description) missing.push(`${name} ${o.flags}: no help text`);
    for (const sub of c.commands) walk(sub, [...trail, c.name()]);
  };
  const program = await buildProgram();
  walk(program, []);
  assert.deepEqual(missing, []);
  // And the real CLI prints it, for a leaf deep in the tree.
  for (const args of [
    ['policy', 'reject', '--help'],
    ['enforce', 'status', '--help'],
    ['unblock', '--help'],
    ['baseline', 'list', '--help'],
  ]) {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: weir /);
    assert.match(r.stdout.split('\n')[2] ?? '', /\w/, `${args.join(' ')} says what it does`);
  }
  // Help fits the terminal too.
  for (const args of [
    ['--help'],
    ['policy', 'simulate', '--help'],
    ['enforce', 'apply', '--help'],
    ['serve', '--help'],
  ]) {
    const r = spawnSync(process.execPath, [cli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, COLUMNS: '80' },
    });
    assert.deepEqual(
      r.stdout.split('\n').filter((l) => l.length > 80),
      [],
      `weir ${args.join(' ')} at COLUMNS=80`,
    );
  }
});

test('detect, learn and baseline on a mistyped store path fail clearly and create no file', async () => {
  const dir = mkdtempSync(path.join(tmp, 'typo-'));
  const typo = path.join(dir, 'wier.db');
  for (const args of [
    ['detect', plant, '--baseline', typo],
    ['learn', plant, '--db', typo],
    ['baseline', 'list', '--db', typo],
    ['baseline', 'show', '--db', typo],
  ]) {
    const r = await weir(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(
      r.stderr,
      new RegExp(
        `no store at ${typo.replace(/[.]/g, '\\.')}: .*weir discover FILE\\.\\.\\. --db PATH`,
      ),
      args.join(' '),
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(readdirSync(dir), [], `${args.join(' ')} left no file`);
  }
  // Building a store on purpose still works.
  const r = await weir(['learn', plant, '--db', typo, '--create', '--until', '50%']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(typo));
});

test('demo with WEIR_DEMO_NO_SERVE=1 prints no dashboard line', { timeout: 120_000 }, () => {
  const db = path.join(tmp, 'demo.db');
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/demo.sh')], {
    encoding: 'utf8',
    cwd: tmp,
    env: { ...process.env, WEIR_DEMO_NO_SERVE: '1', WEIR_DEMO_DB: db },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /Dashboard:|Ctrl-C|weir serve --db/);
  assert.match(r.stdout, /serve --db/, 'says how to serve it later');
});
