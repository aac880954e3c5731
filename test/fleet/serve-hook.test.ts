// `weir serve` on a host that is a fleet site: what the dashboard changes in the kernel (undoing a playbook's
// block here) goes through the site's FleetBackend, so the manager hears of it and every site follows; on a
// host that is no site (the embedded default) nothing changes. nftables in a namespace the test makes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { buildServer } from '../../src/server/app.js';
import { stateApplier } from '../../src/fleet/apply-state.js';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { fleetNodeDir, siteWrapper } from '../../src/fleet/site-backend.js';
import { insertPlaybookAction, type PlaybookActionRow } from '../../src/store/playbook-store.js';
import { canBuildLab } from '../lab/plant.js';
import { addUsers, freshStore, injectLogin } from '../server/fixture.js';
import { weir } from '../helpers/weir-cli.js';
import { blockedIn, FLEET_POLICY } from './lab-sets.js';
import { tempDir } from './fleet-kit.js';

const namespaces: string[] = [];
after(() => {
  for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

const action = (id: string, target: string): PlaybookActionRow => ({
  id,
  at: Math.floor(Date.now() / 1000),
  zone: 'ctl',
  playbook: 'contain-scans',
  policySha: 'f'.repeat(64),
  mode: 'act',
  kind: 'block_source',
  target,
  ttlS: 600,
  expiresAt: Math.floor(Date.now() / 1000) + 600,
  detectionId: `d-${id}`,
  detectionType: 'port_scan',
  detectionTs: Math.floor(Date.now() / 1000),
  status: 'done',
  reason: '',
  details: {},
  undoneBy: null,
  undoneAt: null,
});

test('the node folder: WEIR_FLEET_NODE wins over settings fleet.node_dir; neither: not a site', () => {
  assert.equal(fleetNodeDir('/etc/site', '/run/node'), '/run/node');
  assert.equal(fleetNodeDir('/etc/site', undefined), '/etc/site');
  assert.equal(fleetNodeDir('', ''), null);
  assert.equal(siteWrapper(null), null);
});

test('weir serve on a fleet site: a dashboard unblock goes through the site node to the manager; on a plain host it stays local', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-fs-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  namespaces.push(ns);
  const dir = tempDir('serve-hook');
  const stateDir = path.join(dir, 'state');
  const nft = new NftBackend({ family: 'inet', netns: ns }, stateDir, { persistent: true });
  try {
    // What the site's node applied from the manager: the table, its blocklist, and two playbook blocks.
    await stateApplier(nft, { site: 'a' })(
      {
        format: 'weir-state/1',
        kind: 'policy',
        version: 1,
        issued: new Date().toISOString(),
        publisher: 'manager',
        keyId: 'k',
        body: { text: FLEET_POLICY(1), source: 'fleet.yaml' },
      },
      null,
    );
    await nft.block('10.78.0.66', 600, 'playbook');
    await nft.block('10.78.0.67', 600, 'playbook');
    assert.deepEqual(blockedIn(ns).sort(), ['10.78.0.66', '10.78.0.67']);

    const nodeDir = path.join(dir, 'node');
    mkdirSync(nodeDir);
    writeFileSync(path.join(nodeDir, 'site.json'), '{"site":"a"}\n');
    const node = openFleetDb(path.join(nodeDir, 'node.db'));
    const blocks = (): Array<{ address: string; unblock?: boolean }> =>
      (
        node.prepare("SELECT body FROM outbox WHERE kind = 'block' ORDER BY seq").all() as Array<{
          body: string;
        }>
      ).map((r) => JSON.parse(r.body) as { address: string; unblock?: boolean });

    const store = freshStore('weir-serve-hook-');
    await addUsers(store.db, [['sec', ['security']]]);
    insertPlaybookAction(store.db, action('pa-000000000001', '10.78.0.66'));
    insertPlaybookAction(store.db, action('pa-000000000002', '10.78.0.67'));

    // The embedded default: no node, the unblock stays on this host.
    const plain = await buildServer({ db: store.db, stateDir });
    try {
      const r = await plain.inject({
        method: 'POST',
        url: '/api/playbooks/actions/pa-000000000002/undo',
        headers: { cookie: await injectLogin(plain, 'sec') },
      });
      assert.equal(r.statusCode, 200, r.body);
    } finally {
      await plain.close();
    }
    assert.deepEqual(blockedIn(ns), ['10.78.0.66']);
    assert.deepEqual(blocks(), [], 'nothing for the manager from a plain host');

    // A fleet site: the same route, through the hook serve installs.
    const site = await buildServer({
      db: store.db,
      stateDir,
      siteEnforcement: siteWrapper(fleetNodeDir('', nodeDir))!,
    });
    try {
      const r = await site.inject({
        method: 'POST',
        url: '/api/playbooks/actions/pa-000000000001/undo',
        headers: { cookie: await injectLogin(site, 'sec') },
      });
      assert.equal(r.statusCode, 200, r.body);
    } finally {
      await site.close();
    }
    assert.deepEqual(blockedIn(ns), [], 'lifted in this kernel first');
    assert.deepEqual(
      blocks().map((b) => [b.address, b.unblock]),
      [['10.78.0.66', true]],
      'and sent to the manager through the site outbox',
    );
    node.close();
    store.db.close();
  } finally {
    nft.remove('test');
    nft.close();
  }
});

test('weir serve reads the node folder from WEIR_FLEET_NODE and refuses one that is not a node folder', async () => {
  const dir = tempDir('serve-hook-cli');
  const r = await weir(['serve', '--db', path.join(dir, 'weir.db'), '--port', '0'], {
    env: { WEIR_FLEET_NODE: path.join(dir, 'nowhere') },
    timeoutMs: 20_000,
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /WEIR_FLEET_NODE=.*not a weir node folder/);
});
