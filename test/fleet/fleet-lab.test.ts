// Two sites and a manager with real nats-server processes; each site enforces with nftables in a network
// namespace of its own (the test creates and removes them). Its WAN link to the hub is a relay on loopback
// that the test cuts. Partitions are compressed to seconds: what matters is that records pile up on the
// site's disk while its leaf is cut off and that the state pushed meanwhile waits in the bucket; minutes
// change only how many (the duplicate window is an hour, and the manager's insert by id has no window).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { parsePolicy } from '../../src/policy/load.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { canBuildLab } from '../lab/plant.js';
import { freePort, Link, sleep, tempDir, until } from './fleet-kit.js';

const POLICY = (n: number): string => `weir: policy/1
zones:
  - { name: sup${n}, members: [10.78.0.0/28], mode: monitor }
  - { name: ctl, members: [10.78.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup${n}, to: ctl }]
groups:
  - { name: ews, conduit: c, clients: [10.78.0.0/28], servers: [ctl], ports: [502], access: read-write }
`;

const dir = tempDir('fleet-lab');
const namespaces: string[] = [];
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

function blocked(ns: string): string[] {
  try {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'weir', 'blocklist'],
      {
        encoding: 'utf8',
      },
    );
    const set = (
      JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
    ).nftables.find((x) => x.set)?.set;
    return (set?.elem ?? []).map((e) =>
      typeof e === 'string' ? e : String((e as { elem: { val: string } }).elem.val),
    );
  } catch {
    return [];
  }
}

const detections = (mgr: ManagerRuntime, site: string): Array<{ id: string; n: number }> =>
  (
    mgr.db
      .prepare(
        "SELECT id, body FROM fleet_records WHERE site = ? AND kind = 'detection' ORDER BY stream_seq",
      )
      .all(site) as Array<{ id: string; body: string }>
  ).map((r) => ({ id: r.id, n: (JSON.parse(r.body) as { n: number }).n }));

test('fleet-wide containment, and a site cut off keeps enforcing, then delivers every detection exactly once and applies the policies pushed meanwhile in order', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const tag = randomBytes(3).toString('hex');
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const leafPort = await freePort();
  const mgr = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: await freePort() },
    leaf: { host: '127.0.0.1', port: leafPort },
    // Sites reach the hub only through their relays: the hub must not tell their leaf nodes its own address.
    leafAdvertise: '127.0.0.1:1',
    log: () => undefined,
  });
  stops.push(() => mgr.stop());
  const sites: Record<
    string,
    { rt: NodeRuntime; ns: string; link: Link; nft: NftBackend; applied: number[] }
  > = {};
  for (const s of ['a', 'b']) {
    const ns = `weir-fl-${s}-${tag}`;
    execFileSync('ip', ['netns', 'add', ns]);
    namespaces.push(ns);
    const sdir = tempDir(`fleet-site-${s}`);
    const nft = new NftBackend({ family: 'inet', netns: ns }, path.join(sdir, 'state'), {
      persistent: true,
    });
    const link = await Link.open(leafPort);
    stops.push(() => link.close());
    const applied: number[] = [];
    const rt = await NodeRuntime.start({
      kit: readSiteKit(s, path.join(mdir, 'sites', s)),
      dir: sdir,
      client: { host: '127.0.0.1', port: await freePort() },
      hubUrls: [`nats-leaf://127.0.0.1:${link.port}`],
      local: nft,
      log: () => undefined,
      onApplied: (d) => {
        if (d.kind === 'policy') applied.push(d.version);
      },
    });
    stops.push(async () => {
      await rt.stop();
      nft.remove('test');
      nft.close();
    });
    sites[s] = { rt, ns, link, nft, applied };
  }
  const A = sites.a!;
  const B = sites.b!;

  // The manager's policy v1 loads at both sites (their nftables tables and blocklist sets).
  await mgr.manager.publish('policy', () => ({ text: POLICY(1), source: 'plant.yaml' }));
  await until(
    'policy v1 loaded at both sites',
    () => A.applied.length === 1 && B.applied.length === 1,
  );
  assert.ok(parsePolicy(POLICY(1), 'p').ok);
  assert.equal(A.nft.status().loaded, true);
  assert.equal(B.nft.status().loaded, true);

  // Containment: a block decided at site A is in site B's kernel blocklist.
  await A.rt.backend.block('10.78.0.66', 600, 'playbook contain-scans: port_scan');
  assert.deepEqual(blocked(A.ns), ['10.78.0.66']);
  await until('10.78.0.66 in site B nftables', () => blocked(B.ns).includes('10.78.0.66'), 20_000);

  // Partition: site A's link to the hub is cut while it sees attacks.
  A.link.cut();
  await sleep(300);
  const total = 300;
  for (let n = 0; n < total / 2; n++) A.rt.outbox.add('detection', { n, type: 'port_scan' });
  // It still acts locally: its own playbook block lands in its kernel at once, the manager unreachable.
  await A.rt.backend.block(
    '10.78.0.77',
    600,
    'playbook contain-scans: host_scan during the partition',
  );
  assert.ok(blocked(A.ns).includes('10.78.0.77'), 'site A enforces locally while cut off');
  // Meanwhile the manager pushes policies v2 and v3 (site B takes them at once; A must wait).
  await mgr.manager.publish('policy', () => ({ text: POLICY(2), source: 'plant.yaml' }));
  await mgr.manager.publish('policy', () => ({ text: POLICY(3), source: 'plant.yaml' }));
  await until('site B at v3', () => B.applied.at(-1) === 3);
  for (let n = total / 2; n < total; n++) A.rt.outbox.add('detection', { n, type: 'port_scan' });
  await sleep(3000);
  assert.ok(
    A.rt.outbox.pending >= total,
    `the detections wait on site A’s disk (${A.rt.outbox.pending} pending, ${detections(mgr, 'a').length} at the manager)`,
  );
  assert.deepEqual(A.applied, [1], 'site A has not seen v2 or v3 yet');
  assert.ok(!blocked(B.ns).includes('10.78.0.77'), 'the partitioned block has not reached B yet');
  // Still enforcing what it had: the blocklist and policy of before the cut.
  assert.ok(blocked(A.ns).includes('10.78.0.66'));

  A.link.restore();
  await until(
    'every detection of site A at the manager',
    () => detections(mgr, 'a').length >= total,
    20_000,
  );
  await until('site A at policy v3', () => A.applied.at(-1) === 3, 20_000);
  await until('10.78.0.77 in site B nftables', () => blocked(B.ns).includes('10.78.0.77'), 20_000);
  await sleep(1000); // anything sent twice would have arrived by now
  const got = detections(mgr, 'a');
  assert.equal(got.length, total, 'none duplicated');
  assert.deepEqual(
    got.map((d) => d.n).sort((x, y) => x - y),
    Array.from({ length: total }, (_, i) => i),
    'none lost',
  );
  assert.deepEqual(
    got.map((d) => d.n),
    Array.from({ length: total }, (_, i) => i),
    'in the order they happened',
  );
  assert.deepEqual(A.applied, [1, 2, 3], 'the policies pushed meanwhile are applied in order');
  const aLog = A.rt.follower.history().filter((h) => h.kind === 'policy');
  assert.deepEqual(
    aLog.map((h) => [h.version, h.verdict]),
    [
      [1, 'applied'],
      [2, 'applied'],
      [3, 'applied'],
    ],
  );
  assert.ok(
    aLog.every((h) => /^signed by /.test(h.reason)),
    'each one verified',
  );
  assert.equal(A.nft.status().applied?.source, 'plant.yaml');
});
