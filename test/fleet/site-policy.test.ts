// A site's policy (zones and their ladder modes), proposals with approvals and playbooks reaching the manager,
// with real nats-server processes on loopback: exactly once, newest version wins, the manager's zones of a
// site's assets come from that site's own policy only. Attacks first: a site publishing a policy as another
// site, a zone claiming assets its site does not hold, oversize and malformed policy records, and a replayed
// old policy version.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { connect } from 'nats';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import type { FleetDb } from '../../src/fleet/fleet-db.js';
import { readRejects } from '../../src/fleet/aggregate-store.js';
import { fleetAssets, fleetMap } from '../../src/fleet/aggregate-read.js';
import { fleetPlaybooks, fleetPolicies, fleetProposals } from '../../src/fleet/policy-read.js';
import { HUB_DOMAIN, siteInbox } from '../../src/fleet/subjects.js';
import { openStore } from '../../src/store/db.js';
import { setProposalStatus } from '../../src/store/change-store.js';
import { freePort, Link, tempDir, until, MemoryBackend } from './fleet-kit.js';
import { startManager } from './hub-kit.js';
import { seedSite } from './site-store-kit.js';
import { approve, playbookBlock, propose, setPolicy, SITE_POLICY } from './site-policy-kit.js';

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
});

const n = (db: FleetDb, sql: string, ...args: unknown[]): number =>
  (db.prepare(sql).get(...args) as { n: number }).n;
const ledger = (db: FleetDb, site: string, kind: string): number =>
  n(db, 'SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = ?', site, kind);
const policyVersion = (db: FleetDb, site: string): number | null =>
  (
    db.prepare("SELECT version FROM fleet_items WHERE site = ? AND type = 'policy'").get(site) as
      | { version: number }
      | undefined
  )?.version ?? null;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

async function manager(name: string, sites: string[]) {
  const mdir = path.join(tempDir(name), 'manager');
  const home = openHome(mdir);
  for (const s of sites) addSite(home, s);
  const { mgr, leafPort } = await startManager(mdir, stops);
  return { mdir, leafPort, mgr };
}

async function site(
  mdir: string,
  name: string,
  hubPort: number,
  store: ReturnType<typeof openStore>,
): Promise<NodeRuntime> {
  const rt = await NodeRuntime.start({
    kit: readSiteKit(name, path.join(mdir, 'sites', name)),
    dir: tempDir(`pol-site-${name}`),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${hubPort}`],
    local: new MemoryBackend(),
    store,
    publish: { everyMs: 150, fullSweepEvery: 4 },
    log: () => undefined,
  });
  stops.push(() => rt.stop());
  return rt;
}

test(
  "a site's policy, ladder, proposals and playbooks reach the manager once each; zones of its assets come from its own policy only",
  { timeout: 90_000 },
  async () => {
    const { mdir, leafPort, mgr } = await manager('pol', ['a', 'b']);
    const storeA = openStore(path.join(tempDir('pol-store-a'), 'weir.db'));
    const storeB = openStore(path.join(tempDir('pol-store-b'), 'weir.db'));
    seedSite(storeA, 'a', 4, 1);
    seedSite(storeB, 'b', 3, 1);
    const sha1 = setPolicy(storeA, SITE_POLICY('monitor'));
    const p1 = propose(storeA, sha1);
    approve(storeA, p1, 'sam', 'security');
    playbookBlock(storeA, 'pb-1', '10.1.0.99');
    await site(mdir, 'a', leafPort, storeA);
    await site(mdir, 'b', leafPort, storeB);
    const db = mgr.db;
    await until(
      "a's policy, proposal and playbook action and b's assets arrived",
      () =>
        policyVersion(db, 'a') === 1 &&
        fleetProposals(db, 'a').items.length === 1 &&
        fleetPlaybooks(db, 'a', 50).actions.length === 1 &&
        fleetAssets(db, 'b', { limit: 10, offset: 0 }).total === 3 &&
        fleetAssets(db, 'a', { limit: 10, offset: 0 }).total === 4,
      30_000,
    );

    // Zones: a's assets are placed by a's policy; a's zone naming b's address plan gives b's assets nothing.
    const a = fleetAssets(db, 'a', { limit: 10, offset: 0 });
    assert.deepEqual(new Set(a.items.map((x) => x.zone)), new Set(['control']));
    const b = fleetAssets(db, 'b', { limit: 10, offset: 0 });
    assert.deepEqual(
      b.items.map((x) => x.zone),
      [null, null, null],
      "a's other-cell (10.2.0.0/16) does not claim b's assets",
    );
    const all = fleetAssets(db, '*', { limit: 20, offset: 0 });
    assert.ok(all.items.filter((x) => x.site === 'b').every((x) => x.zone === null));
    assert.equal(fleetAssets(db, '*', { zone: 'other-cell', limit: 20, offset: 0 }).total, 0);
    assert.equal(fleetAssets(db, '*', { zone: 'control', limit: 20, offset: 0 }).total, 4);
    const map = fleetMap(db, '*', 100);
    assert.ok(map.nodes.filter((x) => x.site === 'b').every((x) => x.zone === null));
    assert.ok(
      map.nodes.some((x) => x.site === 'a' && x.zone === 'control'),
      "a's map nodes are grouped in a's zones",
    );
    const pol = fleetPolicies(db, 'a').sites[0]!;
    assert.equal(pol.sha, sha1);
    assert.deepEqual(
      pol.zones.map((z) => [z.name, z.mode, z.assets]),
      [
        ['control', 'monitor', 4],
        ['other-cell', 'observe', 0],
      ],
    );
    assert.deepEqual(fleetPolicies(db, 'b').sites, [], 'b sent no policy');
    const pbs = fleetPlaybooks(db, 'a', 50);
    assert.deepEqual(
      pbs.playbooks.map((p) => [p.site, p.zone, p.name, p.mode]),
      [['a', 'control', 'contain-scans', 'act']],
    );
    assert.deepEqual(fleetPlaybooks(db, 'b', 50).playbooks, []);
    const prop = fleetProposals(db, '*').items[0] as { site: string; approvals: unknown[] };
    assert.equal(prop.site, 'a');
    assert.equal(prop.approvals.length, 1);

    // The ladder moves at the site (the zone promoted, the proposal approved and applied): the next versions.
    approve(storeA, p1, 'eng', 'engineering');
    setProposalStatus(storeA, p1, 'applied');
    const sha2 = setPolicy(storeA, SITE_POLICY('enforce'));
    await until(
      'the promotion arrived',
      () =>
        policyVersion(db, 'a') === 2 &&
        (fleetProposals(db, 'a').items[0] as { status: string }).status === 'applied',
      20_000,
    );
    assert.equal(fleetPolicies(db, 'a').sites[0]!.sha, sha2);
    assert.equal(fleetPolicies(db, 'a').sites[0]!.zones[0]!.mode, 'enforce');
    // Full sweeps ran meanwhile (every 4 ticks): nothing unchanged went out twice.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(ledger(db, 'a', 'policy'), 2);
    assert.equal(ledger(db, 'a', 'proposal'), 2);
    assert.equal(ledger(db, 'a', 'playbook'), 1);
    assert.equal(ledger(db, 'b', 'policy'), 0);
    assert.equal(mgr.manager.duplicates, 0);

    // The policy removed at the site: its tombstone takes the zones away.
    storeA.prepare('DELETE FROM active_policy').run();
    await until('the policy tombstone', () => fleetPolicies(db, 'a').sites.length === 0, 15_000);
    assert.ok(fleetAssets(db, 'a', { limit: 10, offset: 0 }).items.every((x) => x.zone === null));
  },
);

test(
  'attacks: a policy as another site, a zone claiming what its site does not hold, oversize and malformed records, a replayed old version',
  { timeout: 60_000 },
  async () => {
    const { mdir, leafPort, mgr } = await manager('pol-attack', ['a', 'b']);
    const storeA = openStore(path.join(tempDir('pol-attack-a'), 'weir.db'));
    const storeB = openStore(path.join(tempDir('pol-attack-b'), 'weir.db'));
    seedSite(storeB, 'b', 3, 0);
    const a = await site(mdir, 'a', leafPort, storeA);
    await site(mdir, 'b', leafPort, storeB);
    // A compromised process at site a, straight on a's leaf.
    const nc = await connect({
      servers: `127.0.0.1:${a.nc.info!.port}`,
      inboxPrefix: siteInbox('a'),
    });
    stops.push(() => nc.close());
    const js = nc.jetstream({ domain: HUB_DOMAIN, timeout: 1500 });
    let seq = 0;
    const send = async (kind: string, id: string, body: unknown): Promise<void> => {
      await js.publish(
        `weir.site.a.${kind}`,
        Buffer.from(JSON.stringify({ id, at: Date.now(), kind, body })),
        { msgID: `${id}#${seq++}` },
      );
    };
    const policyRec = (text: string, version: number, extra: Record<string, unknown> = {}) => ({
      type: 'policy',
      key: 'active',
      version,
      doc: {
        sha: sha256(text),
        source: 'policy.yaml',
        text,
        appliedAt: '2026-11-27T10:00:00.000Z',
        proposalId: null,
        ...extra,
      },
    });
    // Its policy as b: the hub refuses the subject; under its own subject with b's id, the manager refuses it.
    const asB = policyRec(SITE_POLICY('enforce', 'b'), 50);
    await assert.rejects(
      js.publish(
        'weir.site.b.policy',
        Buffer.from(JSON.stringify({ id: 'b:policy', at: 1, body: asB })),
        {
          msgID: 'b:policy',
        },
      ),
      "the hub refuses a's policy under b",
    );
    await send('policy', 'b:policy:active:50', asB);
    await until(
      'b reached the manager',
      () => fleetAssets(mgr.db, 'b', { limit: 10, offset: 0 }).total === 3,
    );

    // A zone claiming b's hosts by address, names and a made-up asset list: a's own subject, a's id, a policy
    // that names itself b. Kept as a's; b's assets stay unzoned.
    const claim = `weir: policy/1
site: b
timezone: UTC
assets:
  - { name: b-plc-0, ip: 10.2.0.10 }
zones:
  - { name: grab, members: [10.2.0.0/16, b-plc-0], mode: enforce }
conduits: []
groups: []
`;
    await send(
      'policy',
      'a:policy:claim:3',
      policyRec(claim, 3, {
        site: 'b',
        zones: [{ name: 'grab', members: ['10.2.0.10'] }],
        assets: { '10.2.0.10': 'grab' },
      }),
    );
    await until("the claiming policy kept as a's", () => policyVersion(mgr.db, 'a') === 3);
    const grab = fleetPolicies(mgr.db, 'a').sites[0]!;
    assert.equal(grab.namedSite, 'b', "it names b, and is shown as a's");
    assert.deepEqual(
      grab.zones.map((z) => [z.name, z.assets]),
      [['grab', 0]],
      'a holds none of the hosts its zone names',
    );
    assert.deepEqual(fleetPolicies(mgr.db, 'b').sites, []);
    assert.ok(
      fleetAssets(mgr.db, 'b', { limit: 10, offset: 0 }).items.every((x) => x.zone === null),
      "a's zone does not claim b's assets",
    );
    assert.equal(fleetAssets(mgr.db, '*', { zone: 'grab', limit: 10, offset: 0 }).total, 0);
    assert.ok(fleetMap(mgr.db, '*', 100).nodes.every((x) => x.zone === null));
    // Malformed, each refused and counted: text not matching its hash, text that is no policy, a policy under
    // another key, no document, a record past the size bound, not JSON, a bad proposal, a bad playbook action.
    const bad = policyRec(SITE_POLICY(), 9);
    await send('policy', 'a:m1', { ...bad, doc: { ...bad.doc, text: bad.doc.text + '#' } });
    const junk = 'zones: [1, 2]\n';
    await send('policy', 'a:m2', policyRec(junk, 9));
    await send('policy', 'a:m3', { ...policyRec(SITE_POLICY(), 9), key: 'b' });
    await send('policy', 'a:m4', { type: 'policy', key: 'active', version: 9 });
    await send('policy', 'a:m5', policyRec(`${SITE_POLICY()}#${'x'.repeat(300_000)}\n`, 9));
    await js.publish('weir.site.a.policy', Buffer.from('{"id":"a:m6",'), { msgID: 'a:m6' });
    await send('proposal', 'a:m7', {
      type: 'proposal',
      key: '1',
      version: 1,
      doc: { id: 2, kind: 'zone_promotion' },
    });
    await send('playbook', 'a:m8', {
      type: 'playbook',
      key: 'pb',
      version: 1,
      doc: { id: 'pb', at: 1, zone: 'control', mode: 'act', kind: 'rm -rf', status: 'done' },
    });
    // A newer policy, then an old version replayed (a copy of an earlier record under a fresh message id).
    const v7 = SITE_POLICY('enforce');
    await send('policy', 'a:policy:active:7', policyRec(v7, 7));
    await send('policy', 'a:policy:claim:3', policyRec(claim, 3));
    await send('policy', 'a:policy:active:5', policyRec(SITE_POLICY('observe'), 5));
    await send('proposal', 'a:ok', {
      type: 'proposal',
      key: '1',
      version: 1,
      doc: {
        id: 1,
        kind: 'zone_promotion',
        zone: 'control',
        policySha: sha256(v7),
        baseSha: null,
        requiredRoles: ['security'],
        status: 'open',
        createdBy: 'eve',
        createdAt: '2026-11-27T10:00:00.000Z',
        note: '',
        doc: {},
        approvals: [],
        site: 'b',
      },
    });
    const db = mgr.db;
    await until('the good proposal after them', () => fleetProposals(db, 'a').items.length === 1);
    assert.equal(policyVersion(db, 'a'), 7, 'the replayed v3 and the old v5 did not replace v7');
    assert.equal(
      fleetProposals(db, '*').items[0]!.site,
      'a',
      'the site named in the record is ignored',
    );
    const pol = fleetPolicies(db, 'a').sites[0]!;
    assert.equal(pol.sha, sha256(v7));
    assert.equal(pol.zones.find((z) => z.name === 'control')!.mode, 'enforce');
    assert.equal(
      n(db, "SELECT count(*) AS n FROM fleet_items WHERE site = 'b' AND type = 'policy'"),
      0,
    );
    assert.deepEqual(fleetPolicies(db, 'b').sites, []);
    assert.ok(
      fleetAssets(db, '*', { limit: 20, offset: 0 })
        .items.filter((x) => x.site === 'b')
        .every((x) => x.zone === null),
      "no policy of a's places b's assets",
    );
    assert.equal(mgr.manager.duplicates, 1, 'the same record id twice is kept once');

    const rejects = readRejects(db);
    const reasons = rejects.map((r) => `${r.kind}: ${r.reason}`).join('\n');
    assert.ok(
      rejects.every((r) => r.site === 'a'),
      reasons,
    );
    assert.match(reasons, /policy: id is not the site's/);
    assert.match(reasons, /policy: malformed: policy text does not match its hash/);
    assert.match(reasons, /policy: malformed: policy does not parse/);
    assert.match(reasons, /policy: malformed: a policy record keyed b/);
    assert.match(reasons, /policy: malformed: no document/);
    assert.match(reasons, /policy: too large/);
    assert.match(reasons, /policy: not JSON/);
    assert.match(reasons, /proposal: malformed: key is not the proposal's id/);
    assert.match(reasons, /playbook: malformed: /);
    assert.equal(
      rejects.reduce((s, r) => s + r.n, 0),
      9,
      reasons,
    );
  },
);

test(
  'a cut link: the ladder moved twice meanwhile; after the link returns the manager holds the newest, each version once',
  { timeout: 60_000 },
  async () => {
    const { mdir, leafPort, mgr } = await manager('pol-cut', ['a']);
    const link = await Link.open(leafPort);
    stops.push(() => link.close());
    const store = openStore(path.join(tempDir('pol-cut-a'), 'weir.db'));
    seedSite(store, 'a', 2, 0);
    setPolicy(store, SITE_POLICY('monitor'));
    const a = await site(mdir, 'a', link.port, store);
    const db = mgr.db;
    await until('v1 arrived', () => policyVersion(db, 'a') === 1, 20_000);
    link.cut();
    setPolicy(store, SITE_POLICY('simulate'));
    await until('v2 queued', () => a.outbox.pending >= 1, 10_000);
    const sha3 = setPolicy(store, SITE_POLICY('enforce'));
    await until('v3 queued', () => a.outbox.pending >= 2, 10_000);
    assert.equal(policyVersion(db, 'a'), 1, 'nothing new while cut');
    link.restore();
    await until('v3 arrived', () => policyVersion(db, 'a') === 3, 30_000);
    await a.outbox.drain(5000);
    const p = fleetPolicies(db, 'a').sites[0]!;
    assert.equal(p.sha, sha3);
    assert.equal(p.zones[0]!.mode, 'enforce');
    assert.equal(ledger(db, 'a', 'policy'), 3);
    assert.equal(mgr.manager.duplicates, 0);
  },
);
