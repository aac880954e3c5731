import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { launcherEnv, launcherFlags } from '../../bench/launcher-flags.js';

const launcher = path.join(repoRoot, 'bin/weir');
const main = path.join(repoRoot, 'dist/src/cli/main.js');
const SENSOR_FLAGS = [
  '--min-semi-space-size=32',
  '--max-semi-space-size=32',
  '--interrupt-budget=450000',
  '--heap-growing-percent=100',
];
/** `weir detect` keeps its compiled baseline and per-edge state: its first full collection waits for 96 MB. */
const DETECT_FLAGS = [...SENSOR_FLAGS, '--initial-old-space-size=96'];
const flagsOf = (cmd: string): string[] => (cmd === 'detect' ? DETECT_FLAGS : SENSOR_FLAGS);

/** A stand-in for Node.js that prints the arguments it was started with, one JSON array. */
function fakeNode(dir: string): string {
  const f = path.join(dir, 'fake-node');
  writeFileSync(
    f,
    `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n`,
  );
  chmodSync(f, 0o755);
  return f;
}

function argsVia(bin: string, args: string[], node: string): string[] {
  const out = execFileSync(bin, args, { env: { ...process.env, WEIR_NODE: node } });
  return JSON.parse(out.toString()) as string[];
}

test('package.json runs the CLI through the launcher', () => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  assert.equal(pkg.bin.weir, 'bin/weir');
  assert.match(
    readFileSync(path.join(repoRoot, 'packaging/debian/weir'), 'utf8'),
    /exec \/usr\/lib\/weir\/bin\/weir "\$@"/,
  );
});

test('commands that read packets get the sensor heap flags; the others run as before; arguments pass untouched', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-launcher-'));
  try {
    const node = fakeNode(dir);
    for (const cmd of ['discover', 'dissect', 'learn', 'detect', 'serve', 'node']) {
      const args = [cmd, 'a file with spaces.pcap', '--json', '', '$HOME', '*'];
      assert.deepEqual(argsVia(launcher, args, node), [...flagsOf(cmd), main, ...args], cmd);
      // The benches start each build's passes with the flags its launcher gives the command.
      assert.deepEqual(launcherFlags(path.join(repoRoot, 'dist'), cmd), flagsOf(cmd), cmd);
    }
    assert.deepEqual(launcherFlags(path.join(repoRoot, 'dist'), 'user'), []);
    // Past global options, as the CLI itself finds its command (src/cli/program.ts commandNamed).
    for (const [cmd, args] of [
      ['discover', ['--config', 'x.yaml', 'discover', 'f.pcap']],
      ['serve', ['--audit-key=k', 'serve']],
      ['detect', ['--audit-key', 'k', 'detect', 'f']],
    ] as const)
      assert.deepEqual(
        argsVia(launcher, [...args], node),
        [...flagsOf(cmd), main, ...args],
        args.join(' '),
      );
    // A global option's value is no command: `--config discover` names the file discover.
    assert.deepEqual(argsVia(launcher, ['--config', 'discover', 'user', 'list'], node), [
      main,
      '--config',
      'discover',
      'user',
      'list',
    ]);
    for (const args of [['user', 'list'], ['--version'], [], ['discovery']])
      assert.deepEqual(argsVia(launcher, args, node), [main, ...args], args.join(' '));
    // npm links the launcher from node_modules/.bin (a symlink elsewhere): main.js is found beside the real file.
    const link = path.join(dir, 'weir');
    symlinkSync(launcher, link);
    assert.deepEqual(argsVia(link, ['discover', 'x'], node), [
      ...SENSOR_FLAGS,
      main,
      'discover',
      'x',
    ]);
    // An install under a folder whose name has spaces: main.js beside it, the path passed whole.
    const spaced = path.join(dir, 'opt with spaces', 'weir');
    mkdirSync(path.join(spaced, 'bin'), { recursive: true });
    copyFileSync(launcher, path.join(spaced, 'bin/weir'));
    assert.deepEqual(argsVia(path.join(spaced, 'bin/weir'), ['dissect', 'y'], node), [
      ...SENSOR_FLAGS,
      path.join(spaced, 'dist/src/cli/main.js'),
      'dissect',
      'y',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('through the launcher the real CLI runs, with the flags, and its output is the same', () => {
  const version = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  assert.equal(execFileSync(launcher, ['--version']).toString().trim(), version.version);
  const plant = path.join(repoRoot, 'fixtures/plant.pcap');
  const direct = execFileSync(process.execPath, [main, 'discover', plant, '--json']);
  const launched = execFileSync(launcher, ['discover', plant, '--json']);
  assert.ok(direct.length > 1000);
  assert.equal(launched.toString(), direct.toString());
  // `weir detect` has a heap flag of its own: its detections are the same as well.
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-launcher-'));
  try {
    const db = path.join(dir, 'b.db');
    execFileSync(process.execPath, [
      main,
      'learn',
      plant,
      '--db',
      db,
      '--create',
      '--until',
      '50%',
    ]);
    const detect = ['detect', plant, '--baseline', db, '--from', '50%', '--jsonl', '--no-save'];
    const found = execFileSync(process.execPath, [main, ...detect]);
    assert.ok(found.toString().split('\n').length > 5);
    assert.equal(execFileSync(launcher, detect).toString(), found.toString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A bad command still fails as the CLI does, with its exit code passed on.
  const bad = spawnSync(launcher, ['discover', path.join(repoRoot, 'no-such.pcap'), '--json']);
  assert.notEqual(bad.status, 0);
});

test('commands that read a capture and end get the malloc tunables, after any the caller set; the others none', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-launcher-'));
  try {
    const node = path.join(dir, 'fake-node');
    writeFileSync(
      node,
      `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.env.GLIBC_TUNABLES ?? null));\n`,
    );
    chmodSync(node, 0o755);
    const tunables = (args: string[], set?: string): string | null => {
      const env: NodeJS.ProcessEnv = { ...process.env, WEIR_NODE: node };
      delete env.GLIBC_TUNABLES;
      if (set !== undefined) env.GLIBC_TUNABLES = set;
      return JSON.parse(execFileSync(launcher, args, { env }).toString()) as string | null;
    };
    const MALLOC = 'glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432';
    for (const cmd of ['discover', 'dissect', 'learn', 'detect']) {
      assert.equal(tunables([cmd, 'f.pcap']), MALLOC, cmd);
      assert.equal(launcherEnv(path.join(repoRoot, 'dist'), cmd).GLIBC_TUNABLES, MALLOC, cmd);
    }
    // Long-running sensors keep glibc's defaults: they would hold on to up to 256 MiB of freed memory.
    for (const cmd of ['serve', 'node']) assert.equal(tunables([cmd, 'f.pcap']), null, cmd);
    assert.equal(
      tunables(['discover', 'f'], 'glibc.cpu.hwcaps=-AVX2'),
      `glibc.cpu.hwcaps=-AVX2:${MALLOC}`,
    );
    assert.equal(tunables(['user', 'list']), null);
    assert.equal(tunables(['user', 'list'], 'glibc.cpu.hwcaps=-AVX2'), 'glibc.cpu.hwcaps=-AVX2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
