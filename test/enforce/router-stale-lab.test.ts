// Router mode (inet family): a connection that went direct while the gateway was down is ended when the gateway
// is back, so a read-only client cannot keep writing through it (review 12, R9). Real peers: pymodbus PLC,
// the weir gateway, the kernel's conntrack and NAT, in namespaces this test creates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab } from '../lab/plant.js';
import { agent, cli, labPolicyStore, sleep } from './lab-kit.js';

const P = `wrs${process.pid.toString(36).slice(-5)}`;
const NS = { cli: `${P}-cli`, fw: `${P}-fw`, plc: `${P}-plc` };
const HIST = '10.79.1.40',
  PLC = '10.79.2.21',
  GW = '10.79.2.1';
const POLICY = `weir: policy/1
timezone: UTC
assets:
  - { name: HIST-1, ip: ${HIST} }
  - { name: PLC-1, ip: ${PLC} }
zones:
  - { name: supervisory, members: [HIST-1], mode: monitor }
  - { name: control, members: [PLC-1], mode: enforce, simulation_window: 1m }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - { name: historian-reads, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: modbus, access: read-only }
`;

// Before the change: Modbus port-level read-write for the historian (a DNP3 group is steered, so the
// gateway runs and conntrack tracks); the change makes the historian read-only through the gateway.
const POLICY_V1 = POLICY.replace(
  /  - \{ name: historian-reads.*\n/,
  `  - { name: historian-rw, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], ports: [502], access: read-write }
  - { name: historian-dnp3, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: dnp3, access: read-only }
`,
);

// A client that opens one Modbus connection, reads, waits for `go`, then writes twice on the same connection.
const OLD_CONNECTION = (go: string): string => `import socket, time, os, json
s = socket.create_connection(('${PLC}', 502)); s.settimeout(3)
s.send(bytes([0,1,0,0,0,6,1,3,0,0,0,1])); print(json.dumps({'read': s.recv(64).hex(), 'port': s.getsockname()[1]}), flush=True)
while not os.path.exists('${go}'): time.sleep(0.1)
for i, reg in enumerate((5, 8)):
    try:
        s.send(bytes([0,2+i,0,0,0,6,1,6,0,reg,0,99])); r = s.recv(64)
        print(json.dumps({'write': reg, 'answer': r.hex()}), flush=True)
    except Exception as e:
        print(json.dumps({'write': reg, 'error': type(e).__name__}), flush=True)
    time.sleep(1)
`;

/**
 * A router between the historian's and the PLC's subnets; `change` is what happens between the two halves;
 * `nat`: the router masquerades towards the PLC (a common IT/OT boundary), so the PLC knows the connection by the
 * router's address.
 */
async function staleConnection(change: 'outage' | 'policy', nat = false): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-rstale-'));
  const state = path.join(dir, 'state'),
    go = path.join(dir, 'go'),
    log = path.join(dir, 'gw.jsonl');
  const procs: ChildProcess[] = [];
  const ip = (...a: string[]): string =>
    execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const inNs = (ns: string, cmd: string, args: string[]): string =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  const bg = (ns: string, cmd: string, args: string[]): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(c);
    return c;
  };
  const probe = (...ops: string[]): Array<{ ok: boolean; data?: number[] }> =>
    inNs(NS.cli, process.execPath, [agent, 'probe', PLC, ...ops])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; data?: number[] });
  const started = (): number =>
    existsSync(log) ? readFileSync(log, 'utf8').split('gateway_started').length : 0;
  const startGateway = async (): Promise<ChildProcess> => {
    const k = started();
    const g = bg(NS.fw, process.execPath, [
      cli,
      'gateway',
      '--state-dir',
      state,
      '--listen',
      GW,
      '--log',
      log,
    ]);
    g.stdout!.resume();
    g.stderr!.resume();
    for (let i = 0; i < 150 && started() === k; i++) await sleep(100);
    await sleep(800); // the first lease renewal
    return g;
  };
  try {
    for (const n of Object.values(NS)) {
      ip('netns', 'add', n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    ip('-n', NS.fw, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.cli);
    ip('-n', NS.fw, 'link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.plc);
    ip('-n', NS.fw, 'addr', 'add', '10.79.1.1/24', 'dev', 'a0');
    ip('-n', NS.fw, 'addr', 'add', `${GW}/24`, 'dev', 'b0');
    ip('-n', NS.cli, 'addr', 'add', `${HIST}/24`, 'dev', 'eth0');
    ip('-n', NS.plc, 'addr', 'add', `${PLC}/24`, 'dev', 'eth0');
    for (const [n, d] of [
      [NS.fw, 'a0'],
      [NS.fw, 'b0'],
      [NS.cli, 'eth0'],
      [NS.plc, 'eth0'],
    ] as const)
      ip('-n', n, 'link', 'set', d, 'up');
    ip('-n', NS.cli, 'route', 'add', 'default', 'via', '10.79.1.1');
    ip('-n', NS.plc, 'route', 'add', 'default', 'via', GW);
    inNs(NS.fw, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    if (nat)
      inNs(NS.fw, 'nft', [
        'add table ip masq; add chain ip masq post { type nat hook postrouting priority 100; };',
        'add rule ip masq post oifname b0 masquerade',
      ]);
    const plc = bg(NS.plc, '/usr/bin/python3', [
      path.resolve('test/lab/agents/modbus_server.py'),
      PLC,
    ]);
    plc.stdout!.resume();
    plc.stderr!.resume();
    for (let i = 0; i < 50 && !probe('read:5:1')[0]!.ok; i++) await sleep(200);

    const apply = async (text: string): Promise<void> => {
      const auth = await labPolicyStore(dir, text);
      inNs(NS.fw, process.execPath, [
        cli,
        'enforce',
        'apply',
        ...auth,
        '--family',
        'inet',
        '--gateway-ip',
        GW,
        '--state-dir',
        state,
      ]);
    };
    if (change === 'outage') {
      await apply(POLICY);
      const g1 = await startGateway();
      assert.equal(probe('write:6:77')[0]!.ok, false, 'the gateway refuses a read-only write');
      g1.kill('SIGKILL');
      await sleep(2500); // the leases run out: fail-open
      assert.equal(probe('write:7:88')[0]!.ok, true, 'the gateway down, traffic goes direct');
    } else {
      await apply(POLICY_V1);
      await startGateway();
      assert.equal(probe('write:7:88')[0]!.ok, true, 'v1 lets the historian write');
    }
    const before = probe('read:5:4')[0]!.data;
    // From here the PLC takes one Modbus connection at a time, as small PLCs allow few (its own kernel counts
    // them and refuses the next with a reset); the probes before have closed theirs.
    for (let i = 0; i < 50 && /:502\s/.test(inNs(NS.plc, 'ss', ['-Htn', '( sport = :502 )'])); i++)
      await sleep(100);
    inNs(NS.plc, 'nft', [
      'add table inet plc; add chain inet plc in { type filter hook input priority 0; };',
      'add rule inet plc in tcp dport 502 ct state new ct count over 1 counter reject with tcp reset',
    ]);
    const old = bg(NS.cli, 'python3', ['-c', OLD_CONNECTION(go)]);
    let out = '';
    old.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    old.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 50 && !out.includes('read'); i++) await sleep(100);
    assert.match(out, /"read": "0001/, 'the old connection is open');
    // The PLC's end of it: PLCs allow few connections (4–16) and never send unasked, so a half left open
    // holds a slot until TCP keepalive (hours, or never) and the gateway's own connects are refused (review 12b, B2).
    const port = (JSON.parse(out.split('\n')[0]!) as { port: number }).port;
    const plcEnd = (): string =>
      inNs(NS.plc, 'ss', ['-Htn', 'state', 'established', `( sport = :502 and dport = :${port} )`]);
    // Masquerading keeps the client's port where it is free, as here.
    const peer = nat ? GW : HIST;
    assert.match(plcEnd(), new RegExp(`${peer}:${port}`), 'the PLC holds the old connection');

    if (change === 'outage') await startGateway();
    else {
      await apply(POLICY); // the gateway takes it on SIGHUP and leases PLC-1:502
      await sleep(1500);
    }
    assert.equal(probe('write:6:77')[0]!.ok, false, 'new connections are judged again');
    writeFileSync(go, '');
    await new Promise<void>((r) => (old.exitCode !== null ? r() : old.once('exit', () => r())));
    const writes = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { write?: number; answer?: string; error?: string })
      .filter((w) => w.write !== undefined);
    assert.equal(writes.length, 2, out);
    // Reset, not left to time out: the client learns at once and reconnects (through the gateway).
    assert.equal(writes[0]!.error, 'ConnectionResetError', out);
    for (const w of writes)
      assert.ok(
        w.answer === undefined || w.answer === '',
        `write of register ${w.write} on the old connection reached the PLC: ${w.answer}`,
      );
    // The old connection's slot is free again: the gateway reaches the PLC (a moment for the PLC to close).
    let after = probe('read:5:4')[0]!;
    for (let i = 0; i < 20 && !after.ok; i++) {
      await sleep(250);
      after = probe('read:5:4')[0]!;
    }
    assert.deepEqual(after.data, before, 'read through the gateway; registers 5..8 untouched');
    assert.equal(
      plcEnd().trim(),
      '',
      "the PLC's end of the old connection is reset too, its slot freed",
    );
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    for (const n of Object.values(NS))
      try {
        ip('netns', 'del', n);
      } catch {
        /* already gone */
      }
    rmSync(dir, { recursive: true, force: true });
  }
}

const lab = (t: { skip: (why: string) => void }): boolean => {
  if (canBuildLab()) return true;
  if (process.env.CI === 'true') throw new Error('the enforcement lab needs root and iproute2');
  t.skip('needs root to build network namespaces');
  return false;
};

test(
  'router mode: a connection opened while the gateway was down is reset once it is back; fail-open still goes direct',
  { timeout: 180_000 },
  async (t) => {
    if (lab(t)) await staleConnection('outage');
  },
);

test(
  'router mode: a connection opened before a policy change steered its server is reset when the change applies',
  { timeout: 180_000 },
  async (t) => {
    if (lab(t)) await staleConnection('policy');
  },
);

test(
  "router mode: where the router masquerades towards the PLC, the PLC's end is reset by the address it knows",
  { timeout: 180_000 },
  async (t) => {
    if (lab(t)) await staleConnection('outage', true);
  },
);
