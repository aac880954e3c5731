// The Debian package on this machine: built by scripts/build-deb.sh, installed with dpkg -i, its units checked
// by systemd-analyze, its service run and stopped, removed (conffiles and data stay, as Debian policy says) and
// purged (nothing stays). Needs root (CI is root on Debian 12); it refuses to run where Weir is installed
// already, and puts the machine back as it found it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { notifySocket, until } from '../helpers/notify-socket.js';
import { writeApplied } from '../../src/enforce/state.js';

const sh = (cmd: string, args: string[]) =>
  spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
const ok = (cmd: string, args: string[]): string => {
  const r = sh(cmd, args);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const installed = (pkg: string): string | null => {
  const r = sh('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg]);
  return r.status === 0 ? r.stdout.trim() : null;
};
const hasUser = (name: string) => sh('getent', ['passwd', name]).status === 0;
/** Processes running the package's code (by command line), other than ours. */
const packageProcesses = (): number[] =>
  readdirSync('/proc')
    .filter((p) => /^[0-9]+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('/usr/lib/weir/dist/');
      } catch {
        return false;
      }
    })
    .map(Number);
/** Does systemd run this machine (PID 1), so units can really be started? */
const systemdRuns = (): boolean => existsSync('/run/systemd/system');

/**
 * dpkg checks Depends against its own database. Where Node.js came from elsewhere (a tarball, nvm) the
 * `nodejs (>= 20)` dependency cannot be met by dpkg although node runs: only then does the test install with
 * --force-depends for that one package, and says so. A dpkg-managed nodejs older than 20 fails the test.
 */
function nodeDependency(): { args: string[]; note: string } {
  const v = installed('nodejs');
  if (v !== null && v.startsWith('install ok installed')) {
    const version = v.split(' ').pop()!;
    const r = sh('dpkg', ['--compare-versions', version, 'ge', '20']);
    assert.equal(r.status, 0, `the Debian package nodejs is ${version}: Weir needs 20 or newer`);
    return { args: [], note: `nodejs ${version} from dpkg satisfies Depends` };
  }
  return {
    args: ['--force-depends'],
    note: `nodejs is not a dpkg package here (node ${process.version} from elsewhere): installed with --force-depends`,
  };
}

test('the Debian package: build, dpkg -i, weir --version, units verified, service run and stopped, dpkg -r, purge', async (t) => {
  if (process.getuid?.() !== 0 || sh('dpkg', ['--version']).status !== 0) {
    if (process.env.CI === 'true')
      throw new Error('the package test needs root and dpkg (CI is root on Debian)');
    return t.skip('needs root and dpkg');
  }
  for (const p of ['/usr/bin/weir', '/usr/lib/weir', '/etc/weir', '/var/lib/weir'])
    assert.ok(
      !existsSync(p),
      `${p} exists: this machine has a Weir installed, which this test would disturb`,
    );
  assert.equal(installed('weir'), null, 'a weir package is installed here already');
  const userBefore = hasUser('weir');
  const captureUserBefore = hasUser('weir-capture');
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-deb-'));
  chmodSync(dir, 0o755); // the weir user sends to the notify socket in here
  try {
    // 1. Build.
    const deb = ok('bash', [path.join(repoRoot, 'scripts/build-deb.sh'), dir]).trim();
    assert.ok(existsSync(deb), deb);
    const version = (
      JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const control = ok('dpkg-deb', ['-f', deb]);
    assert.match(control, new RegExp(`^Version: ${version.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(
      control,
      /^Depends: nodejs \(>= 20\), adduser, nftables, tcpdump, iproute2, libseccomp2$/m,
    );
    // Decoys probe an address before taking it (RFC 5227; iputils' or Habets' arping); without one they refuse to start.
    assert.match(control, /^Recommends: iputils-arping \| arping$/m);
    const files = ok('dpkg-deb', ['-c', deb]);
    for (const f of [
      './usr/bin/weir',
      './usr/lib/weir/bin/weir',
      './usr/lib/weir/dist/src/cli/main.js',
      './usr/lib/weir/dist/web/index.html',
      './usr/lib/weir/data/oui.tsv.gz',
      './usr/lib/weir/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      './usr/lib/weir/node_modules/fastify/package.json',
      './lib/systemd/system/weir-serve.service',
      './lib/systemd/system/weir-gateway.service',
      './usr/lib/tmpfiles.d/weir.conf',
      './etc/weir/weir.yaml',
      './etc/default/weir',
    ])
      assert.ok(files.includes(` ${f}\n`), `${f} in the package`);
    for (const dev of [
      'typescript',
      'vite',
      'prettier',
      'playwright-core',
      '@types/node',
      'dist/test',
    ])
      assert.ok(!files.includes(`/${dev}/`), `no ${dev} in the package`);
    assert.deepEqual(ok('dpkg-deb', ['-I', deb, 'conffiles']).trim().split('\n'), [
      '/etc/weir/weir.yaml',
      '/etc/default/weir',
    ]);

    // 2. Install.
    const dep = nodeDependency();
    t.diagnostic(dep.note);
    ok('dpkg', ['-i', ...dep.args, deb]);
    assert.match(installed('weir') ?? '', /^install ok installed/);
    assert.equal(ok('/usr/bin/weir', ['--version']).trim(), version);
    assert.equal(ok('weir', ['--version']).trim(), version, 'the CLI is on PATH');
    assert.ok(hasUser('weir'), 'a weir system user');
    // capture.user's default: the live capture's own account, not the shared nobody.
    assert.ok(hasUser('weir-capture'), 'a weir-capture system user');
    assert.match(ok('getent', ['passwd', 'weir-capture']), /:\/usr\/sbin\/nologin\n?$/);
    const data = statSync('/var/lib/weir');
    assert.equal((data.mode & 0o777).toString(8), '700');
    assert.equal(ok('stat', ['-c', '%U:%G', '/var/lib/weir']).trim(), 'weir:weir');
    assert.equal(
      readFileSync('/etc/weir/weir.yaml', 'utf8'),
      readFileSync(path.join(repoRoot, 'weir.example.yaml'), 'utf8'),
    );
    assert.match(ok('weir', ['settings', 'check', '/etc/weir/weir.yaml']), /valid/);

    // 3. The units, as systemd reads them (the commands they name exist now).
    const units = [...files.matchAll(/ \.(\/lib\/systemd\/system\/[^ \n]+\.service)\n/g)].map(
      (m) => m[1]!,
    );
    assert.ok(units.length >= 2, units.join(' '));
    const verify = sh('systemd-analyze', ['verify', ...units]);
    const ours = verify.stderr.split('\n').filter((l) => /weir-/.test(l));
    assert.equal(verify.status, 0, verify.stderr);
    assert.deepEqual(ours, [], 'systemd-analyze has nothing to say about the weir units');

    // 4. The service: by systemd where it runs; elsewhere (a container) its command as the unit runs it.
    if (systemdRuns()) {
      t.diagnostic('systemd is PID 1: weir-serve started and stopped by systemctl');
      ok('systemctl', ['start', 'weir-serve.service']);
      await until(
        'weir-serve active',
        () => sh('systemctl', ['is-active', 'weir-serve']).stdout.trim() === 'active',
        60_000,
      );
      assert.equal(ok('systemctl', ['show', '-p', 'User', '--value', 'weir-serve']).trim(), 'weir');
      ok('systemctl', ['stop', 'weir-serve.service']);
      assert.notEqual(sh('systemctl', ['is-active', 'weir-serve']).stdout.trim(), 'active');
      ok('systemctl', ['start', 'weir-serve.service']); // left running: dpkg -r must stop it
    } else {
      t.diagnostic(
        'systemd is not PID 1 here (a container): the units were verified with systemd-analyze but not started by systemd; ' +
          "weir-serve's ExecStart runs instead as the unit would (user weir, its ambient capabilities, a notify socket)",
      );
    }
    const unit = readFileSync('/lib/systemd/system/weir-serve.service', 'utf8');
    const execStart = /^ExecStart=(.+)$/m.exec(unit)![1]!;
    const argv = execStart.replace('$WEIR_SERVE_ARGS', '--port 0').split(/\s+/);
    const sock = notifySocket(path.join(dir, 'notify'));
    await sock.bound;
    const caps = /^AmbientCapabilities=(.+)$/m
      .exec(unit)![1]!
      .split(/\s+/)
      .map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)
      .join(',');
    const serve = systemdRuns()
      ? null
      : spawn(
          'setpriv',
          [
            '--reuid=weir',
            '--regid=weir',
            '--init-groups',
            `--inh-caps=${caps}`,
            `--ambient-caps=${caps}`,
            ...argv,
          ],
          {
            env: {
              PATH: process.env.PATH!,
              WEIR_CONFIG: '/etc/weir/weir.yaml',
              WEIR_STATE_DIR: '/run/weir',
              NOTIFY_SOCKET: path.join(dir, 'notify'),
              WATCHDOG_USEC: '2000000',
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
    let serveErr = '';
    serve?.stderr!.on('data', (d: Buffer) => (serveErr += d.toString()));
    if (serve !== null) {
      await until(
        `READY=1 from the packaged weir serve (${serveErr})`,
        () => sock.got.some((m) => m.includes('READY=1')),
        60_000,
      );
      await until('a watchdog ping', () => sock.got.includes('WATCHDOG=1'));
      assert.equal(
        ok('stat', ['-c', '%U', '/var/lib/weir/weir.db']).trim(),
        'weir',
        'the store belongs to weir',
      );
      assert.equal((statSync('/var/lib/weir/weir.db').mode & 0o777).toString(8), '600');
    }
    sock.stop();
    assert.ok(packageProcesses().length > 0, 'weir serve from the package runs');

    // The gateway unit's stop hook as the unit runs it (user weir, CAP_NET_ADMIN only), in a namespace of its own
    // so the host's rules are not touched; and the runtime folder that root's `enforce apply` and the services share.
    if (!systemdRuns()) {
      assert.equal(ok('stat', ['-c', '%a %U:%G', '/run/weir']).trim(), '2750 weir:weir');
      writeApplied('/run/weir', {
        sha: 'x',
        source: 'test',
        text: '',
        appliedAt: new Date().toISOString(),
        actor: 'root',
        family: 'bridge',
        gatewayIp: '10.77.0.2',
      });
      const asWeir = (capsArg: string[], cmd: string[]) =>
        sh('setpriv', ['--reuid=weir', '--regid=weir', '--init-groups', ...capsArg, ...cmd]);
      assert.equal(
        asWeir([], ['cat', '/run/weir/applied.json']).status,
        0,
        'what root applied, weir reads',
      );
    }
    const gwUnit = readFileSync('/lib/systemd/system/weir-gateway.service', 'utf8');
    const stopPost = /^ExecStopPost=(.+)$/m
      .exec(gwUnit)![1]!
      .replace('${WEIR_FAMILY}', 'bridge')
      .split(/\s+/);
    const gwCaps = /^AmbientCapabilities=(.+)$/m
      .exec(gwUnit)![1]!
      .split(/\s+/)
      .map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)
      .join(',');
    const ns = `weir-deb-${process.pid}`;
    ok('ip', ['netns', 'add', ns]);
    try {
      const hook = sh('ip', [
        'netns',
        'exec',
        ns,
        'setpriv',
        '--reuid=weir',
        '--regid=weir',
        '--init-groups',
        `--inh-caps=${gwCaps}`,
        `--ambient-caps=${gwCaps}`,
        ...stopPost,
      ]);
      assert.equal(hook.status, 0, `ExecStopPost as user weir: ${hook.stderr}`);
      assert.match(hook.stdout, /"event":"gateway_unsteered"/);
      const bare = sh('ip', [
        'netns',
        'exec',
        ns,
        'setpriv',
        '--reuid=weir',
        '--regid=weir',
        '--init-groups',
        ...stopPost,
      ]);
      assert.notEqual(
        bare.status,
        0,
        'without the capability the hook cannot touch nftables: the unit grants it',
      );
    } finally {
      sh('ip', ['netns', 'del', ns]);
    }

    // 5. dpkg -r: nothing of the package runs any more; only conffiles and data stay.
    ok('dpkg', ['-r', 'weir']);
    await until('no process of the package', () => packageProcesses().length === 0, 15_000);
    assert.match(installed('weir') ?? '', /^deinstall ok config-files/);
    for (const gone of [
      '/usr/bin/weir',
      '/usr/lib/weir',
      '/lib/systemd/system/weir-serve.service',
      '/usr/lib/tmpfiles.d/weir.conf',
    ])
      assert.ok(!existsSync(gone), `${gone} removed`);
    for (const kept of ['/etc/weir/weir.yaml', '/etc/default/weir', '/var/lib/weir'])
      assert.ok(existsSync(kept), `${kept} kept after remove (conffile or data)`);
    if (systemdRuns())
      assert.notEqual(sh('systemctl', ['is-active', 'weir-serve']).stdout.trim(), 'active');

    // 6. Purge: nothing stays (the weir account does, as Debian keeps system accounts).
    ok('dpkg', ['--purge', 'weir']);
    assert.equal(installed('weir')?.startsWith('install ok') ?? false, false);
    for (const gone of ['/etc/weir', '/etc/default/weir', '/var/lib/weir', '/run/weir'])
      assert.ok(!existsSync(gone), `${gone} removed by purge`);
  } finally {
    if (installed('weir') !== null) sh('dpkg', ['--purge', 'weir']);
    for (const pid of packageProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (!userBefore && hasUser('weir')) sh('userdel', ['weir']);
    if (!userBefore) sh('groupdel', ['weir']);
    if (!captureUserBefore && hasUser('weir-capture')) sh('userdel', ['weir-capture']);
    if (!captureUserBefore) sh('groupdel', ['weir-capture']);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the systemd units carry the watchdog, restart, hardening and the fail-open stop hook', () => {
  for (const u of ['weir-serve.service', 'weir-gateway.service']) {
    const text = readFileSync(path.join(repoRoot, 'packaging/systemd', u), 'utf8');
    for (const k of [
      'Type=notify',
      'NotifyAccess=all',
      'Restart=always',
      'WatchdogSec=',
      'User=weir',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
    ])
      assert.ok(text.includes(`\n${k}`), `${u}: ${k}`);
    assert.match(text, /^CapabilityBoundingSet=CAP_NET_(RAW CAP_NET_ADMIN|ADMIN CAP_NET_RAW)$/m, u);
    assert.match(text, /^ReadWritePaths=.*\/var\/lib\/weir/m, u);
  }
  assert.match(
    readFileSync(path.join(repoRoot, 'packaging/systemd/weir-gateway.service'), 'utf8'),
    /^ExecStopPost=\/usr\/bin\/weir enforce unsteer /m,
    'the gateway unit removes steering whenever the gateway stops',
  );
});
