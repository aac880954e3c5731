// Bridge: a connection that went direct while the gateway was down is reset once the gateway is back, instead of
// hanging until TCP gives up (its frames are steered to the host, meet an un-NATed conntrack entry and were
// dropped). Review 12, R9 (bridge part). Real peers: the lab plant, pymodbus PLCs, the weir gateway.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { startPlcs } from '../lab/scenario.js';
import { agent, cli, GATEWAY_IP, labPolicyStore, plantPolicy, sleep } from './lab-kit.js';

const POLICY =
  plantPolicy(`  - { name: historian-reads, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: modbus, access: read-only }
`);

/** The IT side of a bridge host's management NIC, which holds the host's default route. */
const MGMT = { host: '192.0.2.2', router: '192.0.2.1', plcLeg: '198.51.100' };

/**
 * A bridge host whose own routes do not put the PLC on br0 (`mgmt`): br0 holds the gateway's address and a route
 * to the supervisory hosts only, the default route is a management NIC, and the IT router behind it reaches the
 * PLC (by another leg, as an IT router reaches the OT subnet through the site firewall) only from the bridge
 * host's own management address: it drops anything else coming from the IT LAN (anti-spoofing) and counts it.
 */
function manage(lab: Plant): { leaked: () => number } {
  const it = `${lab.prefix}-it`;
  const ip = (...a: string[]): string =>
    execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const plc = lab.ns('plc1');
  ip('netns', 'add', it);
  ip('-n', it, 'link', 'set', 'lo', 'up');
  ip(
    '-n',
    lab.ns('fw'),
    'link',
    'add',
    'mgmt0',
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    it,
  );
  ip('-n', it, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', plc);
  ip('-n', lab.ns('fw'), 'addr', 'add', `${MGMT.host}/24`, 'dev', 'mgmt0');
  ip('-n', it, 'addr', 'add', `${MGMT.router}/24`, 'dev', 'eth0');
  ip('-n', it, 'addr', 'add', `${MGMT.plcLeg}.1/24`, 'dev', 'eth1');
  ip('-n', plc, 'addr', 'add', `${MGMT.plcLeg}.21/24`, 'dev', 'eth1');
  for (const [n, d] of [
    [lab.ns('fw'), 'mgmt0'],
    [it, 'eth0'],
    [it, 'eth1'],
    [plc, 'eth1'],
  ] as const)
    ip('-n', n, 'link', 'set', d, 'up');
  // br0: the gateway's address and the supervisory hosts' /27 (HIST-1); PLC-1 is not on br0's own subnet.
  lab.exec('fw', 'ip', ['addr', 'add', `${GATEWAY_IP}/32`, 'dev', 'br0']);
  lab.exec('fw', 'ip', ['route', 'add', '10.77.0.32/27', 'dev', 'br0']);
  lab.exec('fw', 'ip', ['route', 'add', 'default', 'via', MGMT.router]);
  ip('netns', 'exec', it, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  ip('-n', it, 'route', 'add', `${HOSTS.plc1}/32`, 'via', `${MGMT.plcLeg}.21`);
  ip('-n', plc, 'route', 'add', '192.0.2.0/24', 'via', `${MGMT.plcLeg}.1`);
  ip(
    'netns',
    'exec',
    it,
    'nft',
    'add table inet it; add chain inet it transit { type filter hook forward priority 0; };' +
      'add rule inet it transit iifname eth0 ip saddr != 192.0.2.0/24 counter drop;' +
      'add table arp it; add chain arp it in { type filter hook input priority 0; };' +
      'add rule arp it in arp daddr ip 10.77.0.0/24 counter',
  );
  return {
    leaked: () =>
      [...ip('netns', 'exec', it, 'nft', 'list', 'ruleset').matchAll(/counter packets (\d+)/g)]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0),
  };
}

async function staleBridge(t: TestContext, mgmt: boolean): Promise<void> {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('the enforcement lab needs root and iproute2');
    return t.skip('needs root to build network namespaces');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-bstale-'));
  const state = path.join(dir, 'state'),
    go = path.join(dir, 'go'),
    log = path.join(dir, 'gw.jsonl');
  const lab = Plant.up();
  const probe = (...ops: string[]): Array<{ ok: boolean; data?: number[] }> =>
    lab
      .exec('historian', process.execPath, [agent, 'probe', HOSTS.plc1, ...ops], {
        timeoutMs: 20_000,
      })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; data?: number[] });
  const started = (): number =>
    existsSync(log) ? readFileSync(log, 'utf8').split('gateway_started').length : 0;
  const startGateway = async (): Promise<ChildProcess> => {
    const k = started();
    const g = lab.spawn('fw', process.execPath, [
      cli,
      'gateway',
      '--state-dir',
      state,
      '--listen',
      GATEWAY_IP,
      '--log',
      log,
    ]);
    g.stdout!.resume();
    g.stderr!.resume();
    for (let i = 0; i < 150 && started() === k; i++) await sleep(100);
    await sleep(800);
    return g;
  };
  try {
    await startPlcs(lab);
    const it = mgmt ? manage(lab) : null;
    if (!it) lab.exec('fw', 'ip', ['addr', 'add', `${GATEWAY_IP}/24`, 'dev', 'br0']);
    const auth = await labPolicyStore(dir, POLICY);
    lab.exec('fw', process.execPath, [
      cli,
      'enforce',
      'apply',
      ...auth,
      '--family',
      'bridge',
      '--gateway-ip',
      GATEWAY_IP,
      '--bridge',
      'br0',
      '--state-dir',
      state,
    ]);
    const g1 = await startGateway();
    assert.equal(probe('write:6:77')[0]!.ok, false, 'the gateway refuses a read-only write');
    g1.kill('SIGKILL');
    await sleep(2500);
    assert.equal(probe('write:7:88')[0]!.ok, true, 'the gateway down, traffic goes direct');

    const before = probe('read:5:4')[0]!.data;
    // From here PLC-1 takes one Modbus connection at a time, as small PLCs allow few (its own kernel counts
    // them and refuses the next with a reset); the probes before have closed theirs.
    for (
      let i = 0;
      i < 50 && /:502\s/.test(lab.exec('plc1', 'ss', ['-Htn', '( sport = :502 )']));
      i++
    )
      await sleep(100);
    lab.exec('plc1', 'nft', [
      'add table inet plc; add chain inet plc in { type filter hook input priority 0; };',
      'add rule inet plc in tcp dport 502 ct state new ct count over 1 counter reject with tcp reset',
    ]);
    const old = lab.spawn('historian', 'python3', [
      '-c',
      `import socket, time, os, json
s = socket.create_connection(('${HOSTS.plc1}', 502)); s.settimeout(5)
s.send(bytes([0,1,0,0,0,6,1,3,0,0,0,1])); print(json.dumps({'read': s.recv(64).hex(), 'port': s.getsockname()[1]}), flush=True)
while not os.path.exists('${go}'): time.sleep(0.1)
try:
    s.send(bytes([0,2,0,0,0,6,1,6,0,5,0,99])); print(json.dumps({'answer': s.recv(64).hex()}), flush=True)
except Exception as e:
    print(json.dumps({'error': type(e).__name__}), flush=True)
`,
    ]);
    let out = '';
    old.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    old.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 50 && !out.includes('read'); i++) await sleep(100);
    assert.match(out, /"read": "0001/, 'the old connection is open');
    // The PLC's end must be reset too: a half left open holds one of its few connection slots (review 12b, B2).
    const port = (JSON.parse(out.split('\n')[0]!) as { port: number }).port;
    const plcEnd = (): string =>
      lab.exec('plc1', 'ss', [
        '-Htn',
        'state',
        'established',
        `( sport = :502 and dport = :${port} )`,
      ]);
    assert.match(
      plcEnd(),
      new RegExp(`${HOSTS.historian}:${port}`),
      'the PLC holds the old connection',
    );

    await startGateway();
    assert.equal(probe('write:6:77')[0]!.ok, false, 'new connections are judged again');
    writeFileSync(go, '');
    await new Promise<void>((r) => (old.exitCode !== null ? r() : old.once('exit', () => r())));
    // Before: a 5 s timeout (the frames vanished); now the client is told at once and reconnects.
    assert.match(out, /"error": "ConnectionResetError"/, out);
    // The old connection's slot is free again: the gateway reaches the PLC (a moment for the PLC to close).
    let after = probe('read:5:4')[0]!;
    for (let i = 0; i < 20 && !after.ok; i++) {
      await sleep(250);
      after = probe('read:5:4')[0]!;
    }
    assert.deepEqual(after.data, before, 'read through the gateway; registers untouched');
    assert.equal(
      plcEnd().trim(),
      '',
      "the PLC's end of the old connection is reset too, its slot freed",
    );
    // The reset for the PLC leaves by the bridge, never by the host's default route (review 13, M2 a).
    if (it) assert.equal(it.leaked(), 0, 'no plant packet or ARP reached the management LAN');
  } finally {
    await lab.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  'bridge: a connection opened while the gateway was down is reset once it is back, not left hanging',
  { timeout: 240_000 },
  (t) => staleBridge(t, false),
);

test(
  "bridge: the PLC's reset leaves by the bridge where the host's default route is a management NIC",
  { timeout: 240_000 },
  (t) => staleBridge(t, true),
);
