import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDoctor, type DoctorOptions, type Host, type Ran } from '../../src/cli/doctor.js';
import { weir } from '../helpers/weir-cli.js';

const ran = (o: Partial<Ran>): Ran => ({
  status: 0,
  stdout: '',
  stderr: '',
  missing: false,
  timedOut: false,
  ...o,
});
const GiB = 1024 ** 3;
const HELPER = '/usr/lib/weir/bin/weir-capture';

/** A host that has everything; each test takes one thing away. */
function host(over: Partial<Host> & { commands?: Record<string, Ran> } = {}): Host {
  const commands: Record<string, Ran> = {
    'nft --version': ran({ stdout: 'nftables v1.0.6 (Lester Gooch #5)\n' }),
    'nft list tables': ran({}),
    'tcpdump --version': ran({ stdout: 'tcpdump version 4.99.3\n' }),
    'tcpdump -i eth1 -c 1 -w /dev/null': ran({ status: null, timedOut: true }),
    'timedatectl show -p NTPSynchronized --value': ran({ stdout: 'yes\n' }),
    'nats-server --version': ran({ stdout: 'nats-server: v2.10.20\n' }),
    'getent passwd weir-capture': ran({
      stdout: 'weir-capture:x:106:109:Weir live capture,,,:/nonexistent:/usr/sbin/nologin\n',
    }),
    [`${HELPER} --self-test-wrap 7`]: ran({ stdout: '7\n' }),
    [`${HELPER} --features`]: ran({ stdout: 'features: seccomp\n' }),
    ...over.commands,
  };
  const files = new Set([
    '/var/lib/weir',
    '/sys/class/net/eth1',
    '/proc/sys/net/bridge/bridge-nf-call-iptables',
    HELPER,
  ]);
  return {
    run: (cmd, args) => commands[[cmd, ...args].join(' ')] ?? ran({ status: null, missing: true }),
    exists: (p) => files.has(p),
    read: () => null,
    disk: () => ({ free: 40 * GiB, total: 60 * GiB }),
    mode: (p) => (p === HELPER ? 0o755 : p === path.dirname(HELPER) ? 0o755 : 0o700),
    owner: () => 0,
    uid: 0,
    nodeVersion: '20.19.0',
    ...over,
  };
}
const opts: DoctorOptions = {
  roles: ['sensor', 'enforcement'],
  iface: 'eth1',
  dataDir: '/var/lib/weir',
  captureUser: 'weir-capture',
  captureHelper: HELPER,
};
const find = (h: Host, check: string, o = opts) => runDoctor(o, h).filter((f) => f.check === check);

test('a host with everything passes every check', () => {
  const f = runDoctor({ ...opts, roles: ['sensor', 'enforcement', 'fleet'] }, host());
  assert.deepEqual(
    f.filter((x) => x.verdict !== 'ok'),
    [],
  );
});

test('each missing thing fails with how to fix it', () => {
  const cases: Array<[string, Host, RegExp]> = [
    [
      'nftables',
      host({ commands: { 'nft --version': ran({ status: null, missing: true }) } }),
      /apt-get install nftables/,
    ],
    [
      'nftables',
      host({
        commands: {
          'nft list tables': ran({ status: 1, stderr: 'Error: Operation not permitted\n' }),
        },
      }),
      /CAP_NET_ADMIN/,
    ],
    [
      'br_netfilter',
      host({ exists: (p) => p === '/var/lib/weir' || p === '/sys/class/net/eth1' }),
      /modprobe br_netfilter/,
    ],
    [
      'capture',
      host({
        commands: {
          'tcpdump -i eth1 -c 1 -w /dev/null': ran({
            status: 1,
            stderr:
              "tcpdump: eth1: You don't have permission to perform this capture on that device\n",
          }),
        },
      }),
      /CAP_NET_RAW/,
    ],
    [
      'capture',
      host({
        commands: {
          'tcpdump -i eth1 -c 1 -w /dev/null': ran({
            status: 1,
            stderr: 'tcpdump: eth1: That device is not up\n',
          }),
        },
      }),
      /ip link set eth1 up/,
    ],
    [
      'capture',
      host({ commands: { 'tcpdump --version': ran({ status: null, missing: true }) } }),
      /apt-get install tcpdump/,
    ],
    ['disk', host({ disk: () => ({ free: 0.5 * GiB, total: 60 * GiB }) }), /free space/],
    ['data dir', host({ exists: () => false }), /install -d -m 0700/],
    [
      'clock sync',
      host({
        commands: { 'timedatectl show -p NTPSynchronized --value': ran({ stdout: 'no\n' }) },
      }),
      /timesyncd|chrony/,
    ],
    ['node', host({ nodeVersion: '18.19.0' }), /nodejs/],
    [
      'capture user',
      host({ commands: { 'getent passwd weir-capture': ran({ status: 2 }) } }),
      /^adduser --system --group --no-create-home --home \/nonexistent --shell \/usr\/sbin\/nologin weir-capture/,
    ],
    [
      'capture user',
      host({
        commands: {
          'getent passwd weir-capture': ran({ stdout: 'weir-capture:x:0:0::/root:/bin/sh\n' }),
        },
      }),
      /adduser --system/,
    ],
    [
      'capture user',
      // A gid of 0 is root's group: the helper refuses it too.
      host({
        commands: {
          'getent passwd weir-capture': ran({ stdout: 'weir-capture:x:106:0::/x:/bin/false\n' }),
        },
      }),
      /adduser --system/,
    ],
    [
      'capture helper',
      // Anyone may replace the program a root Weir starts.
      host({ mode: (p) => (p === HELPER ? 0o777 : 0o700) }),
      /^chmod go-w \/usr\/lib\/weir\/bin\/weir-capture/,
    ],
  ];
  for (const [check, h, fix] of cases) {
    const f = find(h, check);
    assert.equal(f.length, 1, check);
    assert.equal(f[0]!.verdict, 'fail', `${check}: ${JSON.stringify(f[0])}`);
    assert.match(f[0]!.fix ?? '', fix, check);
  }
});

test('what only another role needs warns instead of failing; a clock nobody can read is unknown, not ok', () => {
  const bare = host({
    commands: {
      'nats-server --version': ran({ status: null, missing: true }),
      'nft --version': ran({ status: null, missing: true }),
      'timedatectl show -p NTPSynchronized --value': ran({
        status: 1,
        stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\n",
      }),
    },
  });
  const sensorOnly: DoctorOptions = { ...opts, roles: ['sensor'] };
  assert.equal(find(bare, 'nats-server', sensorOnly)[0]!.verdict, 'warn');
  assert.equal(find(bare, 'nftables', sensorOnly)[0]!.verdict, 'warn');
  assert.equal(find(bare, 'nats-server', { ...opts, roles: ['fleet'] })[0]!.verdict, 'fail');
  const clock = find(bare, 'clock sync')[0]!;
  assert.equal(clock.verdict, 'unknown');
  assert.match(clock.detail, /cannot tell: timedatectl: System has not been booted/);
  // chrony answers where timedatectl cannot.
  const chrony = host({
    commands: {
      'timedatectl show -p NTPSynchronized --value': ran({ status: 1 }),
      'chronyc -n tracking': ran({
        stdout: 'Reference ID    : C0A80001\nLeap status     : Normal\n',
      }),
    },
  });
  assert.equal(find(chrony, 'clock sync')[0]!.verdict, 'ok');
  assert.equal(find(host(), 'capture', { ...opts, iface: null })[0]!.verdict, 'unknown');
  assert.equal(find(host(), 'capture', { ...opts, iface: 'eth9' })[0]!.verdict, 'fail');
});

test('the capture account and helper: missing, not runnable or odd answers warn or fail with the fix; never ok unchecked', () => {
  const user = (h: Host, o = opts) => find(h, 'capture user', o)[0]!;
  const helper = (h: Host, o = opts) => find(h, 'capture helper', o)[0]!;
  assert.deepEqual(user(host()), {
    check: 'capture user',
    verdict: 'ok',
    detail:
      'weir-capture (uid 106, gid 109): the capture program becomes it once the interface is open',
  });
  assert.equal(helper(host()).verdict, 'ok');
  assert.match(helper(host()).detail, /\/usr\/lib\/weir\/bin\/weir-capture/);
  // A missing account fails a sensor, warns elsewhere; the fix names the configured user, not the default.
  const gone = host({ commands: { 'getent passwd weir-capture': ran({ status: 2 }) } });
  assert.equal(user(gone, { ...opts, roles: ['enforcement'] }).verdict, 'warn');
  const named = user(host({ commands: { 'getent passwd cap-x': ran({ status: 2 }) } }), {
    ...opts,
    captureUser: 'cap-x',
  });
  assert.equal(named.verdict, 'fail');
  assert.match(named.detail, /no account 'cap-x' \(capture\.user\)/);
  assert.match(named.fix!, /nologin cap-x/);
  // The shared nobody works but is weak: its other processes could signal or trace the capture.
  const nobody = user(
    host({
      commands: {
        'getent passwd nobody': ran({
          stdout: 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
        }),
      },
    }),
    { ...opts, captureUser: 'nobody' },
  );
  assert.equal(nobody.verdict, 'warn');
  // No getent: /etc/passwd is read instead; neither: unknown, never ok.
  const noGetent = { 'getent passwd weir-capture': ran({ status: null, missing: true }) };
  assert.equal(
    user(
      host({
        commands: noGetent,
        read: (p) =>
          p === '/etc/passwd'
            ? 'root:x:0:0::/root:/bin/sh\nweir-capture:x:106:109::/nonexistent:/usr/sbin/nologin\n'
            : null,
      }),
    ).verdict,
    'ok',
  );
  assert.equal(
    user(
      host({
        commands: noGetent,
        read: (p) => (p === '/etc/passwd' ? 'root:x:0:0::/root:/bin/sh\n' : null),
      }),
    ).verdict,
    'fail',
  );
  assert.equal(user(host({ commands: noGetent })).verdict, 'unknown');
  // A garbled answer is no account.
  assert.equal(
    user(
      host({ commands: { 'getent passwd weir-capture': ran({ stdout: 'weir-capture:x:abc\n' }) } }),
    ).verdict,
    'unknown',
  );
  // Helper: not built warns (tcpdump captures instead); not executable warns; built but failing to run
  // (a missing libpcap) warns with what it said.
  const notBuilt = helper(host({ exists: (p) => p !== HELPER }));
  assert.equal(notBuilt.verdict, 'warn');
  assert.match(notBuilt.fix!, /scripts\/build-capture-helper\.sh/);
  const notExec = helper(host({ mode: (p) => (p === HELPER ? 0o644 : 0o700) }));
  assert.equal(notExec.verdict, 'warn');
  assert.match(notExec.fix!, /chmod 0755/);
  const broken = helper(
    host({
      commands: {
        [`${HELPER} --self-test-wrap 7`]: ran({
          status: 127,
          stderr: `${HELPER}: error while loading shared libraries: libpcap.so.0.8: cannot open shared object file\n`,
        }),
      },
    }),
  );
  // Executable but not running, live capture fails (findCaptureHelper takes any executable file; no tcpdump).
  assert.equal(broken.verdict, 'fail');
  assert.match(broken.detail, /libpcap\.so\.0\.8/);
  assert.doesNotMatch(broken.detail, /tcpdump/);
  assert.match(broken.detail, /live capture fails/);
  assert.match(broken.fix!, /libpcap/);
  // Group-writable is as bad as world-writable: fails even where capture is not this host's job.
  const groupW = helper(host({ mode: (p) => (p === HELPER ? 0o775 : 0o700) }), {
    ...opts,
    roles: ['fleet'],
  });
  assert.equal(groupW.verdict, 'fail');
  assert.match(groupW.detail, /writable by others/);
});

test('weir doctor on this machine: real checks, JSON, exit status follows the failures', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-doctor-'));
  try {
    const r = await weir([
      'doctor',
      '--role',
      'sensor',
      '--interface',
      'lo',
      '--data-dir',
      dir,
      '--json',
    ]);
    const out = JSON.parse(r.stdout) as {
      findings: Array<{ check: string; verdict: string }>;
      failed: number;
    };
    assert.equal(r.code, out.failed > 0 ? 1 : 0, r.stdout);
    const checks = out.findings.map((f) => f.check);
    for (const c of [
      'settings',
      'node',
      'data dir',
      'disk',
      'clock sync',
      'capture',
      'nftables',
      'br_netfilter',
      'nats-server',
      'capture user',
      'capture helper',
    ])
      assert.ok(checks.includes(c), c);
    const v = (c: string) => out.findings.find((f) => f.check === c)!.verdict;
    assert.equal(v('node'), 'ok');
    assert.equal(v('data dir'), 'ok', 'mkdtemp makes 0700 folders');
    // The helper npm run build made answers --features (ok when built with libseccomp-dev, else warn).
    assert.match(v('capture helper'), /^(ok|warn)$/, r.stdout);
    // As root (CI, this machine) capture on loopback is allowed, and tcpdump really opened it.
    if (process.getuid?.() === 0) assert.equal(v('capture'), 'ok', r.stdout);
    const missing = await weir(['doctor', '--data-dir', path.join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /fail\s+data dir .*does not exist\n\s+fix: install -d -m 0700/);
    // This machine has the weir-capture account (scripts/install-deps.sh); capture.user from the settings file
    // names one that does not exist, and $WEIR_CAPTURE_HELPER a helper that is not there.
    assert.equal(v('capture user'), 'ok', r.stdout);
    const conf = path.join(dir, 'weir.yaml');
    writeFileSync(conf, 'weir: settings/1\ncapture:\n  user: weir-no-such-user\n');
    const noUser = await weir(['doctor', '--role', 'sensor', '--data-dir', dir], {
      env: { WEIR_CONFIG: conf, WEIR_CAPTURE_HELPER: path.join(dir, 'no-helper') },
    });
    assert.equal(noUser.code, 1, noUser.stdout);
    assert.match(
      noUser.stdout,
      /fail\s+capture user\s+no account 'weir-no-such-user' \(capture\.user\).*\n\s+fix: adduser --system --group --no-create-home --home \/nonexistent --shell \/usr\/sbin\/nologin weir-no-such-user/,
    );
    assert.match(noUser.stdout, /warn\s+capture helper\s+.*no-helper.* not built/);
    const badRole = await weir(['doctor', '--role', 'plc']);
    assert.notEqual(badRole.code, 0);
    assert.match(badRole.stderr, /'plc' is not one of sensor, enforcement, fleet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the capture helper: an owner other than root or the user running Weir, or a folder others can write, fails (they could replace what a root Weir starts)', () => {
  const helper = (h: Host) => find(h, 'capture helper')[0]!;
  const dir = path.dirname(HELPER);
  // Built by user dev (uid 1000) in a checkout, run by a root Weir: dev can replace it.
  const dev = helper(host({ owner: (p) => (p === HELPER ? 1000 : 0), uid: 0 }));
  assert.equal(dev.verdict, 'fail');
  assert.match(dev.detail, /owned by uid 1000/);
  assert.match(dev.fix!, /chown root/);
  // The user running Weir owns it: ok (a weir account running its own build).
  assert.equal(helper(host({ owner: () => 1000, uid: 1000 })).verdict, 'ok');
  assert.equal(helper(host({ owner: (p) => (p === HELPER ? 0 : 1000), uid: 1000 })).verdict, 'ok');
  // Owner unreadable: unknown, never ok.
  assert.equal(helper(host({ owner: () => null })).verdict, 'unknown');
  // The folder: group- or other-writable lets others rename a file of their own over the helper.
  for (const m of [0o775, 0o757, 0o1777]) {
    const f = helper(host({ mode: (p) => (p === HELPER ? 0o755 : p === dir ? m : 0o700) }));
    assert.equal(f.verdict, 'fail', m.toString(8));
    assert.match(f.detail, new RegExp(`${dir} .*writable by others`));
    assert.match(f.fix!, /chmod go-w/);
  }
  // A folder owned by someone else than root or the user running Weir: they can replace the helper too.
  const folderDev = helper(host({ owner: (p) => (p === dir ? 1000 : 0), uid: 0 }));
  assert.equal(folderDev.verdict, 'fail');
  assert.match(folderDev.detail, /folder .* owned by uid 1000/);
});

test('the capture helper: built without libseccomp warns with the fix; an older helper without --features is unknown', () => {
  const helper = (h: Host) => find(h, 'capture helper')[0]!;
  const features = (r: Ran) => host({ commands: { [`${HELPER} --features`]: r } });
  assert.equal(helper(features(ran({ stdout: 'features: seccomp\n' }))).verdict, 'ok');
  const plain = helper(features(ran({ stdout: 'features:\n' })));
  assert.equal(plain.verdict, 'warn');
  assert.match(
    plain.detail,
    /weir-capture is not confined to its system calls \(built without libseccomp-dev: scripts\/install-deps\.sh installs it; rebuild with npm run build\)/,
  );
  assert.match(plain.fix!, /scripts\/install-deps\.sh/);
  const older = helper(
    features(ran({ status: 2, stderr: "weir-capture: unknown option '--features'\n" })),
  );
  assert.equal(older.verdict, 'unknown');
  assert.match(older.detail, /--features/);
  // Garbled answers are not ok either.
  assert.equal(helper(features(ran({ stdout: 'hello\n' }))).verdict, 'unknown');
});

test('the capture helper on this machine: a script owned by root in a 0755 folder that answers --features', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-doctor-helper-'));
  try {
    chmodSync(dir, 0o755);
    const h = path.join(dir, 'weir-capture');
    const script = (features: string) =>
      writeFileSync(
        h,
        `#!/bin/sh\ncase "$1" in --self-test-wrap) echo "$2";; --features) echo '${features}';; *) exit 2;; esac\n`,
        { mode: 0o755 },
      );
    script('features: seccomp');
    const o = { ...opts, captureHelper: h };
    const check = () => runDoctor(o).find((f) => f.check === 'capture helper')!;
    assert.equal(check().verdict, 'ok', check().detail);
    script('features:');
    assert.equal(check().verdict, 'warn');
    chmodSync(dir, 0o775);
    assert.equal(check().verdict, 'fail');
    assert.match(check().detail, /writable by others/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
