import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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

/** A host that has everything; each test takes one thing away. */
function host(over: Partial<Host> & { commands?: Record<string, Ran> } = {}): Host {
  const commands: Record<string, Ran> = {
    'nft --version': ran({ stdout: 'nftables v1.0.6 (Lester Gooch #5)\n' }),
    'nft list tables': ran({}),
    'tcpdump --version': ran({ stdout: 'tcpdump version 4.99.3\n' }),
    'tcpdump -i eth1 -c 1 -w /dev/null': ran({ status: null, timedOut: true }),
    'timedatectl show -p NTPSynchronized --value': ran({ stdout: 'yes\n' }),
    'nats-server --version': ran({ stdout: 'nats-server: v2.10.20\n' }),
    ...over.commands,
  };
  const files = new Set([
    '/var/lib/weir',
    '/sys/class/net/eth1',
    '/proc/sys/net/bridge/bridge-nf-call-iptables',
  ]);
  return {
    run: (cmd, args) => commands[[cmd, ...args].join(' ')] ?? ran({ status: null, missing: true }),
    exists: (p) => files.has(p),
    read: () => null,
    disk: () => ({ free: 40 * GiB, total: 60 * GiB }),
    mode: () => 0o700,
    nodeVersion: '20.19.0',
    ...over,
  };
}
const opts: DoctorOptions = {
  roles: ['sensor', 'enforcement'],
  iface: 'eth1',
  dataDir: '/var/lib/weir',
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
    ])
      assert.ok(checks.includes(c), c);
    const v = (c: string) => out.findings.find((f) => f.check === c)!.verdict;
    assert.equal(v('node'), 'ok');
    assert.equal(v('data dir'), 'ok', 'mkdtemp makes 0700 folders');
    // As root (CI, this machine) capture on loopback is allowed, and tcpdump really opened it.
    if (process.getuid?.() === 0) assert.equal(v('capture'), 'ok', r.stdout);
    const missing = await weir(['doctor', '--data-dir', path.join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /fail\s+data dir .*does not exist\n\s+fix: install -d -m 0700/);
    const badRole = await weir(['doctor', '--role', 'plc']);
    assert.notEqual(badRole.code, 0);
    assert.match(badRole.stderr, /'plc' is not one of sensor, enforcement, fleet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
