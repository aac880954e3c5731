// A fleet document a site cannot put into force (review 12b, B11: a bridge host without br_netfilter throws on
// every policy) used to be retried every 500 ms for ever, and the ordered state stream held every later
// document behind it: fleet blocks and their lifts stopped reaching the site. Now it is refused as
// `not-applied` with the reason, reported to the manager and in the site's health, the site keeps enforcing
// what it had, the documents after it go on, and it is tried again until it applies or a newer version does.
// Real nats-server, manager and site node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import type { Blocklist } from '../../src/fleet/manager.js';
import { blocksInForce } from '../../src/fleet/site-blocks.js';
import { readFleetView } from '../../src/fleet/site-view.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-apply-failed');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const POLICY = (n: number): string => `weir: policy/1
zones:
  - { name: z${n}, members: [10.77.0.0/28], mode: monitor }
`;
const NO_BR_NETFILTER =
  'br_netfilter is not loaded: the bridge ruleset tells replies from new connections by conntrack';

/** A bridge host without br_netfilter: every ruleset load throws, as nft.ts's applyRuleset does there. */
class NoBrNetfilter extends MemoryBackend {
  broken = false;
  override apply(req: Parameters<MemoryBackend['apply']>[0]): ReturnType<MemoryBackend['apply']> {
    if (this.broken) return Promise.reject(new Error(NO_BR_NETFILTER));
    return super.apply(req);
  }
}

test('a fleet policy a site cannot apply is refused and reported, and later blocks still reach it', async () => {
  const mdir = path.join(dir, 'manager');
  addSite(openHome(mdir), 'a');
  const logs: string[] = [];
  const { mgr, leafPort } = await startManager(mdir, stops, (m) => logs.push(m));
  const be = new NoBrNetfilter();
  const rt = await NodeRuntime.start({
    kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
    dir: tempDir('apply-failed-a'),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: be,
    log: () => undefined,
    healthEveryMs: 200,
    retryNotAppliedMs: 300,
  });
  stops.push(() => rt.stop());

  await mgr.manager.publish('policy', () => ({ text: POLICY(1), source: 'p1.yaml' }));
  await until('v1 applied', () => be.applied.length === 1);

  be.broken = true;
  await mgr.manager.publish('policy', () => ({ text: POLICY(2), source: 'p2.yaml' }));
  await mgr.manager.block(
    { address: '10.77.0.66', ttlSeconds: 600, comment: 'attacker' },
    'manager:root',
  );
  // The block behind the failed policy reaches the kernel.
  await until('the block after the failed policy is applied', () => be.blocks.has('10.77.0.66'));
  assert.deepEqual(be.applied, [POLICY(1)], 'the site keeps enforcing v1');
  assert.equal(rt.follower.applied('policy')?.version, 1);
  const failed = rt.follower.history().filter((h) => h.verdict === 'refused');
  assert.deepEqual(
    failed.map((h) => [h.kind, h.version, h.reason.split(':')[0]]),
    [['policy', 2, 'not-applied']],
  );
  assert.match(failed[0]!.reason, /br_netfilter is not loaded.*keeps enforcing policy v1/);
  assert.deepEqual(
    rt.follower.notInForce().map((f) => [f.kind, f.version]),
    [['policy', 2]],
  );
  // Told to the manager: its log, and the site's health record.
  await until('the manager is told', () =>
    logs.some((l) => /site a refused a policy document \(v2\).*br_netfilter/.test(l)),
  );
  await until('health says policy v2 is not in force', () => {
    const r = mgr.db.prepare("SELECT health FROM fleet_sites WHERE site = 'a'").get() as
      | { health: string | null }
      | undefined;
    const h = JSON.parse(r?.health ?? '{}') as {
      notInForce?: Array<{ kind: string; version: number }>;
    };
    return h.notInForce?.some((f) => f.kind === 'policy' && f.version === 2) === true;
  });

  // Still broken: tried again, not applied, not reported again.
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(be.applied, [POLICY(1)]);
  assert.equal(rt.follower.history().filter((h) => h.verdict === 'refused').length, 1);
  // Fixed (br_netfilter loaded): v2 applies on its own, with no new version from the manager.
  be.broken = false;
  await until('v2 applied on a retry', () => be.applied.length === 2);
  assert.deepEqual(be.applied, [POLICY(1), POLICY(2)]);
  assert.equal(rt.follower.applied('policy')?.version, 2);
  assert.deepEqual(rt.follower.notInForce(), []);
  await mgr.manager.publish('policy', () => ({ text: POLICY(3), source: 'p3.yaml' }));
  await until('v3 applied', () => be.applied.length === 3);
  assert.deepEqual(be.applied, [POLICY(1), POLICY(2), POLICY(3)]);

  // A failed version passed by a newer one is dropped, not applied over it.
  be.broken = true;
  await mgr.manager.publish('policy', () => ({ text: POLICY(4), source: 'p4.yaml' }));
  await until('v4 refused', () => rt.follower.notInForce().some((f) => f.version === 4));
  be.broken = false;
  await mgr.manager.publish('policy', () => ({ text: POLICY(5), source: 'p5.yaml' }));
  await until('v5 applied', () => rt.follower.applied('policy')?.version === 5);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(be.applied.at(-1), POLICY(5), 'v4 is never applied over v5');
});

/** A site whose kernel refuses to block some addresses (an nft session error on that element). */
class FailingBlocks extends MemoryBackend {
  readonly failOn = new Set<string>();
  override block(
    address: string,
    ttlSeconds: number,
    comment = '',
  ): ReturnType<MemoryBackend['block']> {
    if (this.failOn.has(address))
      return Promise.reject(new Error(`nft: could not add ${address} to the blocked set`));
    return super.block(address, ttlSeconds, comment);
  }
}

// Review 13, M4 and L9: a blocklist that failed half-way (refused as not-applied) had put its first blocks in the
// kernel, but the next version lifted only what the last APPLIED version held: a host it lifted stayed cut while
// the manager and the site said it was not blocked, and the site's own unblock check (B3) did not see the block.
test('a blocklist that failed half-way: what it put in is held, and a later version lifts it', async () => {
  const mdir = path.join(dir, 'manager-partial');
  addSite(openHome(mdir), 'p');
  const { mgr, leafPort } = await startManager(mdir, stops);
  const be = new FailingBlocks();
  const rt = await NodeRuntime.start({
    kit: readSiteKit('p', path.join(mdir, 'sites', 'p')),
    dir: tempDir('apply-failed-p'),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: be,
    log: () => undefined,
    healthEveryMs: 200,
    retryNotAppliedMs: 300,
  });
  stops.push(() => rt.stop());
  const [X, Y, Z] = ['10.77.1.10', '10.77.1.11', '10.77.1.12'];
  const until_ = Math.floor(Date.now() / 1000) + 3600;
  const entry = (address: string): Blocklist['entries'][number] => ({
    address,
    until: until_,
    origin: 'manager:root',
    comment: 'attacker',
  });

  // v1 blocks X, Y and Z; the kernel refuses Y.
  be.failOn.add(Y);
  await mgr.manager.publish<Blocklist>('blocklist', () => ({ entries: [X, Y, Z].map(entry) }));
  await until('v1 refused as not-applied', () =>
    rt.follower.notInForce().some((f) => f.kind === 'blocklist' && f.version === 1),
  );
  assert.ok(be.blocks.has(X) && be.blocks.has(Z), 'the blocks after the failed one go in too');
  assert.ok(!be.blocks.has(Y));
  assert.equal(rt.follower.applied('blocklist'), null);
  assert.match(rt.follower.notInForce()[0]!.reason, /could not block 10\.77\.1\.11.*2 of 3/);
  // L9: what v1 put in is held here (a site's unblock of X is kept by the manager's entry).
  assert.deepEqual(
    blocksInForce(rt.db, Math.floor(Date.now() / 1000))
      .map((e) => e.address)
      .sort(),
    [X, Z],
  );
  const kept = await rt.backend.unblock(X, 'not ours');
  assert.deepEqual(kept.keptBy, ['manager:root']);
  assert.ok(be.blocks.has(X));

  // v2 lifts X (Y still refused by the kernel): X is unblocked even though no version applied held it.
  await mgr.manager.publish<Blocklist>('blocklist', () => ({ entries: [Y, Z].map(entry) }));
  await until('v2 lifted X', () => !be.blocks.has(X));
  await until('v2 refused as not-applied', () =>
    rt.follower.notInForce().some((f) => f.kind === 'blocklist' && f.version === 2),
  );
  assert.ok(be.blocks.has(Z));
  assert.deepEqual(
    blocksInForce(rt.db, Math.floor(Date.now() / 1000)).map((e) => e.address),
    [Z],
  );
  // The kernel takes Y again: v2 applies on a retry; v3 lifts everything.
  be.failOn.clear();
  await until('v2 applied on a retry', () => rt.follower.applied('blocklist')?.version === 2);
  assert.ok(be.blocks.has(Y) && be.blocks.has(Z));
  await mgr.manager.publish<Blocklist>('blocklist', () => ({ entries: [] }));
  await until('v3 lifted Y and Z', () => be.blocks.size === 0);

  // L3: the manager's site view says which version a site could not apply, and why.
  be.failOn.add(X);
  await mgr.manager.publish<Blocklist>('blocklist', () => ({ entries: [X, Y].map(entry) }));
  await until('the site view shows blocklist v4 not in force', () => {
    const s = readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'p');
    return s?.notInForce.some((f) => f.kind === 'blocklist' && f.version === 4) === true;
  });
  const shown = readFleetView(mgr.db, Date.now()).sites.find((x) => x.name === 'p')!;
  assert.match(shown.notInForce[0]!.reason, /^not-applied: .*could not block 10\.77\.1\.10/);

  // A policy put into force judges the blocklist again, but v4 waits for a retry: v4 is tried under it, not v3
  // judged again (which would lift the block of Y that v4 put in).
  assert.ok(be.blocks.has(Y));
  const liftsOfY = (): number => be.log.filter((l) => l === `unblock ${Y}`).length;
  const before = liftsOfY();
  await mgr.manager.publish('policy', () => ({ text: POLICY(1), source: 'p1.yaml' }));
  await until('the policy applied', () => rt.follower.applied('policy')?.version === 1);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(liftsOfY(), before, 'Y is never lifted');
  assert.ok(be.blocks.has(Y));
});
