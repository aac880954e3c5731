// `weir node -i IF --playbooks`: the whole site in one process on live traffic. An attacker in a namespace of
// its own scans the site's PLC address across a veth link; the node captures it in the site's namespace
// (tcpdump through Weir's live path), detects the scan against its store's baseline, its playbook blocks the
// source in the site's nftables, and the site's own store holds the inventory, the detection, its incident
// and the audit of who started the playbooks, while the manager receives the detection and the block.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { addSite, openHome } from '../../src/fleet/home.js';
import type { Blocklist } from '../../src/fleet/manager.js';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { canBuildLab } from '../lab/plant.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { approvedStore } from '../helpers/approved-store.js';
import { cli } from '../helpers/weir-cli.js';
import { blockedIn, FLEET_POLICY } from './lab-sets.js';
import { freePort, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';
import { readFleetView } from '../../src/fleet/site-view.js';
import { findCaptureHelper } from '../../src/capture/live.js';
import { captureListening } from '../helpers/capture-ready.js';

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

const ipIn = (ns: string, ...args: string[]): void => {
  execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args]);
};

/**
 * A manager and a site node following `iface` inside `siteNs` (the site's store approved, the plant baseline
 * seeded when asked); both stopped after the test. `err` reads the node's stderr so far.
 */
async function startSite(
  label: string,
  siteNs: string,
  iface: string,
  opts: { baseline?: boolean; playbooks?: boolean } = {},
) {
  const dir = tempDir(label);
  const mdir = path.join(dir, 'manager');
  addSite(openHome(mdir), 'a');
  const { mgr, leafPort } = await startManager(mdir, stops);
  const site = await approvedStore(dir, SITE_POLICY);
  if (opts.baseline) {
    const seed = openStore(site.db);
    saveBaseline(seed, plantBaseline());
    seed.close();
  }
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
      path.join(dir, 'node'),
      '--hub',
      `nats-leaf://127.0.0.1:${leafPort}`,
      '--listen',
      String(await freePort()),
      '--netns',
      siteNs,
      ...site.auth,
      '--interface',
      iface,
      ...(opts.playbooks ? ['--playbooks'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  node.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (node.exitCode !== null) return resolve();
        node.once('exit', () => resolve());
        node.kill('SIGTERM');
      }),
  );
  return { mgr, site, node, err: () => err };
}

test('weir node on a live interface: capture → detect → playbook block in the site kernel, with its own store, fleet-wide', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root, iproute2 and tcpdump');
    return t.skip('needs root');
  }
  const tag = randomBytes(3).toString('hex');
  const siteNs = `weir-fn-s-${tag}`;
  const attNs = `weir-fn-x-${tag}`;
  for (const ns of [siteNs, attNs]) {
    execFileSync('ip', ['netns', 'add', ns]);
    namespaces.push(ns);
  }
  // The site's PLC address on its end of the link; the attacker on the other.
  execFileSync('ip', [
    'link',
    'add',
    `wn${tag}`,
    'netns',
    siteNs,
    'type',
    'veth',
    'peer',
    'name',
    `wx${tag}`,
    'netns',
    attNs,
  ]);
  ipIn(siteNs, 'addr', 'add', '10.77.0.21/24', 'dev', `wn${tag}`);
  ipIn(siteNs, 'link', 'set', `wn${tag}`, 'up');
  ipIn(attNs, 'addr', 'add', '10.77.0.66/24', 'dev', `wx${tag}`);
  ipIn(attNs, 'link', 'set', `wx${tag}`, 'up');

  const { mgr, site, node, err } = await startSite('fleet-node-live', siteNs, `wn${tag}`, {
    baseline: true,
    playbooks: true,
  });
  await until(
    'the node following its interface',
    () => /following live:/.test(err()),
    20_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${err()}`));
  await mgr.manager.publish('policy', () => ({ text: FLEET_POLICY(1), source: 'fleet.yaml' }));
  await until('the site table loaded', () => /applied policy v1/.test(err()), 20_000);
  await captureListening(siteNs);

  // The attacker's SYN scan of 14 ports of the PLC address (the kernel there answers RST).
  const scan = `const net=require('net');for(let i=0;i<14;i++){const s=net.connect({host:'10.77.0.21',port:20+i*7});s.on('error',()=>{});s.setTimeout(500,()=>s.destroy())}setTimeout(()=>process.exit(0),800)`;
  execFileSync('ip', ['netns', 'exec', attNs, process.execPath, '-e', scan]);
  await until(
    '10.77.0.66 blocked in the site kernel',
    () => blockedIn(siteNs).includes('10.77.0.66'),
    15_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${err()}`));
  await until('the block fleet-wide', async () =>
    ((await mgr.manager.state<Blocklist>('blocklist'))?.body.entries ?? []).some(
      (e) => e.address === '10.77.0.66' && e.origin === 'a',
    ),
  );
  await until('the detection at the manager', () =>
    (
      mgr.db
        .prepare("SELECT body FROM fleet_records WHERE site = 'a' AND kind = 'detection'")
        .all() as Array<{ body: string }>
    ).some((r) => /"type":"port_scan"/.test(r.body)),
  );
  // The site's health tells the manager which program captures and what it counted (the sites page shows it).
  const program = findCaptureHelper() ? 'weir-capture' : 'tcpdump';
  await until(
    "the site's capture at the manager",
    () => {
      const c = readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'a')?.capture;
      return c?.program === program && (c.counters?.receivedByFilter ?? 0) > 0;
    },
    25_000,
  );
  // The site's own store: the inventory (written at the next flush), the detection, its incident, the audit.
  await until('the attacker in the site inventory', () => {
    const s = openStore(site.db);
    try {
      return s.prepare("SELECT 1 FROM assets WHERE id = '10.77.0.66'").get() !== undefined;
    } finally {
      s.close();
    }
  });
  const s = openStore(site.db);
  try {
    assert.ok(
      s.prepare("SELECT 1 FROM detections WHERE type = 'port_scan' AND src = '10.77.0.66'").get(),
    );
    assert.ok((s.prepare('SELECT count(*) AS n FROM incidents').get() as { n: number }).n >= 1);
    assert.ok(s.prepare("SELECT 1 FROM audit_log WHERE action = 'playbooks.started'").get());
  } finally {
    s.close();
  }

  // The site's interface goes away: its capture ends, and the manager must not keep showing its last counters
  // as if the site still saw its traffic. The record says stopped, and why.
  const running = readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'a')?.capture;
  assert.equal(running?.state, 'running');
  assert.equal(running?.stale, false);
  ipIn(siteNs, 'link', 'del', `wn${tag}`);
  await until(
    "the site's capture stopped at the manager",
    () =>
      readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'a')?.capture?.state ===
      'stopped',
    15_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${err()}`));
  const stopped = readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'a')!.capture!;
  assert.equal(stopped.program, program);
  assert.ok(stopped.reason !== null && stopped.reason.length > 0, `a reason: ${stopped.reason}`);
  assert.equal(stopped.stale, false);
  // The node itself keeps running: still enforcing and syncing.
  assert.equal(node.exitCode, null);
});

test('weir node on an interface it cannot capture: the manager reads its capture as stopped, with why', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root, iproute2 and tcpdump');
    return t.skip('needs root');
  }
  const tag = randomBytes(3).toString('hex');
  const siteNs = `weir-fn-f-${tag}`;
  execFileSync('ip', ['netns', 'add', siteNs]);
  namespaces.push(siteNs);
  // No such interface in the site's namespace: the capture program fails to start.
  const { mgr, node, err } = await startSite('fleet-node-nocap', siteNs, `wgone${tag}`);
  await until(
    "the site's capture stopped at the manager",
    () =>
      readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'a')?.capture?.state ===
      'stopped',
    25_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${err()}`));
  const c = readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'a')!.capture!;
  assert.equal(c.program, findCaptureHelper() ? 'weir-capture' : 'tcpdump');
  assert.match(c.reason ?? '', new RegExp(`wgone${tag}`));
  assert.equal(c.counters, null);
  assert.equal(node.exitCode, null, 'the node keeps enforcing and syncing');
});
