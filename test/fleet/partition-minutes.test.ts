// A site's link to the hub cut for three minutes while it sees attacks (issue 15's "several minutes"). The
// site is the real `weir node` process: it captures (a pcap stream on its standard input, written as the
// attacks happen), detects against its store's baseline, runs its playbooks and blocks in its own nftables
// (in a namespace the test makes), all while the manager is unreachable. After the link returns, every
// detection the site stored reaches the manager exactly once, the blocks it made go fleet-wide, and the two
// policy versions the manager pushed meanwhile are applied at the site in order, each with its signature
// checked. Real nats-server processes; the WAN link is a relay on loopback that the test cuts.
// FLEET_PARTITION_S shortens the cut for development (default 180 s).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { addSite, openHome } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { readFleetView } from '../../src/fleet/site-view.js';
import type { Blocklist } from '../../src/fleet/manager.js';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { canBuildLab } from '../lab/plant.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { approvedStore } from '../helpers/approved-store.js';
import { cli } from '../helpers/weir-cli.js';
import { TcpFlow } from '../fixtures-gen/pcap-writer.js';
import { blockedIn, FLEET_POLICY } from './lab-sets.js';
import { freePort, Link, sleep, tempDir, until } from './fleet-kit.js';

const CUT_S = Number(process.env.FLEET_PARTITION_S ?? 180);

/** The site's own policy (in its store, approved): a playbook blocks the source of a port scan on the PLC. */
const SITE_POLICY = `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.10, 10.77.0.30], mode: monitor }
  - name: control
    members: [10.77.0.21, 10.77.0.40]
    mode: monitor
    playbooks:
      - name: contain-scans
        mode: act
        on: [port_scan]
        when: { min_severity: low, source_not_in: [supervisory] }
        actions: [block_source]
        block_ttl: 30m
        rate_limit: { max: 50, per: 10m }
`;

const namespaces: string[] = [];
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

/** A pcap stream written as traffic happens: the global header, then records stamped with the wall clock. */
class PcapStream {
  constructor(private readonly out: NodeJS.WritableStream) {
    const gh = Buffer.alloc(24);
    gh.writeUInt32LE(0xa1b2c3d4, 0);
    gh.writeUInt16LE(2, 4);
    gh.writeUInt16LE(4, 6);
    gh.writeUInt32LE(65535, 16);
    gh.writeUInt32LE(1, 20);
    out.write(gh);
  }

  write(frames: Buffer[]): void {
    for (const f of frames) {
      const t = Date.now() / 1000;
      const h = Buffer.alloc(16);
      h.writeUInt32LE(Math.floor(t), 0);
      h.writeUInt32LE(Math.floor((t % 1) * 1e6), 4);
      h.writeUInt32LE(f.length, 8);
      h.writeUInt32LE(f.length, 12);
      this.out.write(Buffer.concat([h, f]));
    }
  }
}

/** A SYN scan of 14 ports of the PLC from `attacker` (a port scan: 10 ports make one). */
function scan(attacker: string): Buffer[] {
  return Array.from(
    { length: 14 },
    (_, i) =>
      new TcpFlow(
        { mac: '02:00:00:00:00:66', ip: attacker, port: 40000 + i },
        { mac: '02:00:00:00:00:21', ip: '10.77.0.21', port: 20 + i * 7 },
      ).handshake()[0]!,
  );
}

test(`a site cut off for ${CUT_S} s while it sees attacks keeps detecting and blocking locally, then delivers every detection exactly once and applies the policies pushed meanwhile in order`, async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const tag = randomBytes(3).toString('hex');
  const dir = tempDir('fleet-partition');
  const mdir = path.join(dir, 'manager');
  addSite(openHome(mdir), 'a');
  const leafPort = await freePort();
  const mgr = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: await freePort() },
    leaf: { host: '127.0.0.1', port: leafPort },
    leafAdvertise: '127.0.0.1:1',
    log: () => undefined,
  });
  stops.push(() => mgr.stop());
  const link = await Link.open(leafPort);
  stops.push(() => link.close());
  const ns = `weir-fp-a-${tag}`;
  execFileSync('ip', ['netns', 'add', ns]);
  namespaces.push(ns);

  // The site's store: its baseline, its approved policy with the playbook, a person allowed to enforce.
  const site = await approvedStore(dir, SITE_POLICY);
  const seed = openStore(site.db);
  saveBaseline(seed, plantBaseline());
  seed.close();
  const config = path.join(dir, 'weir.yaml');
  writeFileSync(config, 'weir: settings/1\nfleet:\n  health_every_s: 2\n');
  const ndir = path.join(dir, 'node');
  const node: ChildProcess = spawn(
    process.execPath,
    [
      cli,
      'node',
      '--site',
      'a',
      '--kit',
      path.join(mdir, 'sites', 'a'),
      '--dir',
      ndir,
      '--hub',
      `nats-leaf://127.0.0.1:${link.port}`,
      '--listen',
      String(await freePort()),
      '--netns',
      ns,
      ...site.auth,
      '--capture',
      '-',
      '--playbooks',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, WEIR_CONFIG: config } },
  );
  let err = '';
  node.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  node.stdout!.resume();
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (node.exitCode !== null) return resolve();
        node.once('exit', () => resolve());
        node.kill('SIGTERM');
      }),
  );
  const wire = new PcapStream(node.stdin!);
  const say = (): string => `node said:\n${err.slice(-2000)}`;
  await until('weir node following its capture', () => /following -/.test(err), 20_000).catch(
    (e: Error) => assert.fail(`${e.message}\n${say()}`),
  );
  assert.match(err, /playbooks of policy .*acting control\/contain-scans/);

  const nodeDb = openFleetDb(path.join(ndir, 'node.db'));
  stops.push(async () => {
    nodeDb.close();
  });
  const policyLog = (): Array<{ version: number; verdict: string; reason: string }> =>
    nodeDb
      .prepare("SELECT version, verdict, reason FROM state_log WHERE kind = 'policy' ORDER BY seq")
      .all() as Array<{ version: number; verdict: string; reason: string }>;
  const atManager = (): string[] =>
    (
      mgr.db
        .prepare(
          "SELECT body FROM fleet_records WHERE site = 'a' AND kind = 'detection' ORDER BY stream_seq",
        )
        .all() as Array<{ body: string }>
    ).map((r) => (JSON.parse(r.body) as { id: string }).id);
  const atSite = (): string[] => {
    const s = openStore(site.db);
    try {
      return (
        s.prepare('SELECT id FROM detections ORDER BY id').all() as Array<{ id: string }>
      ).map((r) => r.id);
    } finally {
      s.close();
    }
  };
  const fleetBlocks = async (): Promise<string[]> =>
    ((await mgr.manager.state<Blocklist>('blocklist'))?.body.entries ?? []).map((e) => e.address);

  // The manager's policy v1 loads the site's nftables table (and its blocklist set).
  await mgr.manager.publish('policy', () => ({ text: FLEET_POLICY(1), source: 'fleet.yaml' }));
  await until('policy v1 at the site', () => policyLog().length === 1, 20_000);

  // Connected: an attack is detected, blocked here, and known fleet-wide at once.
  wire.write(scan('10.77.0.100'));
  await until('10.77.0.100 blocked at the site', () => blockedIn(ns).includes('10.77.0.100'));
  await until('the block fleet-wide', async () => (await fleetBlocks()).includes('10.77.0.100'));
  await until('the first detections at the manager', () => atManager().length > 0);

  // The cut: attacks keep coming for CUT_S seconds; the manager pushes policies v2 and v3 meanwhile.
  link.cut();
  const t0 = Date.now();
  const rounds = 6;
  const attackers: string[] = [];
  let v = 1;
  for (let r = 0; r < rounds; r++) {
    await sleep(Math.max(0, t0 + ((r + 0.5) * CUT_S * 1000) / rounds - Date.now()));
    const attacker = `10.77.0.${101 + r}`;
    attackers.push(attacker);
    const sent = Date.now();
    wire.write(scan(attacker));
    await until(`${attacker} blocked at the site during the cut`, () =>
      blockedIn(ns).includes(attacker),
    ).catch((e: Error) => assert.fail(`${e.message}\n${say()}`));
    t.diagnostic(
      `${attacker}: blocked in the site's kernel ${Date.now() - sent} ms after its scan`,
    );
    if (r === 1 || r === 3) {
      v++;
      await mgr.manager.publish('policy', () => ({ text: FLEET_POLICY(v), source: 'fleet.yaml' }));
    }
  }
  await sleep(Math.max(0, t0 + CUT_S * 1000 - Date.now()));
  const heard = atManager().length;
  const cutAt = readFleetView(mgr.db, Date.now(), {
    stale_after_s: Math.floor(CUT_S / 4),
    cut_off_after_s: Math.floor(CUT_S / 2),
  }).sites.find((s) => s.name === 'a');
  assert.equal(
    cutAt?.health,
    'cut off',
    'the sites page (its thresholds from settings) says cut off',
  );
  assert.deepEqual(
    policyLog().map((p) => p.version),
    [1],
    'v2 and v3 wait for the link',
  );
  for (const a of attackers)
    assert.ok(!(await fleetBlocks()).includes(a), `${a}: not fleet-wide while cut off`);
  assert.ok(
    atSite().length > heard,
    `the cut-off detections wait at the site (${atSite().length} stored, ${heard} at the manager)`,
  );

  link.restore();
  const stored = atSite();
  await until(
    'every detection of the site at the manager',
    () => atManager().length >= stored.length,
    60_000,
  ).catch((e: Error) =>
    assert.fail(`${e.message}: ${atManager().length} of ${stored.length}\n${say()}`),
  );
  await until('policy v3 at the site', () => policyLog().length === 3, 30_000);
  await until(
    'the blocks made during the cut fleet-wide',
    async () => {
      const f = await fleetBlocks();
      return attackers.every((a) => f.includes(a));
    },
    30_000,
  );
  await sleep(2000); // anything sent twice would have arrived by now
  const got = atManager();
  t.diagnostic(
    `${got.length} detections at the manager (${got.length - heard} delivered after the ${CUT_S} s cut), ${atSite().length} in the site store`,
  );
  assert.equal(new Set(got).size, got.length, 'none duplicated');
  assert.deepEqual([...got].sort(), atSite(), 'none lost: exactly what the site stored');
  assert.deepEqual(
    policyLog().map((p) => [p.version, p.verdict]),
    [
      [1, 'applied'],
      [2, 'applied'],
      [3, 'applied'],
    ],
    'the policies pushed meanwhile, in order',
  );
  assert.ok(
    policyLog().every((p) => /^signed by /.test(p.reason)),
    'each verified against the manager key',
  );
  for (const a of ['10.77.0.100', ...attackers])
    assert.ok(blockedIn(ns).includes(a), `${a} still blocked at the site`);
  await until(
    'the site ok again on the sites page',
    () => readFleetView(mgr.db, Date.now()).sites.find((s) => s.name === 'a')?.health === 'ok',
  );
  node.stdin!.end();
});
