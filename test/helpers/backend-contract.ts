import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parsePolicy } from '../../src/policy/load.js';
import type { EnforcementBackend } from '../../src/enforce/backend.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.78.0.0/28], mode: monitor }
  - { name: ctl, members: [10.78.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: ews, conduit: c, clients: [10.78.0.0/28], servers: [ctl], ports: [102, 502], access: read-write }
`;

/**
 * The contract every backend keeps, run against one: apply, block/unblock, permit and the permit listing,
 * revocation and restoration the playbooks use, status, remove. A backend
 * that passes this can stand in for nftables behind the CLI, the playbooks and the fleet.
 */
export async function backendContract(b: EnforcementBackend): Promise<void> {
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok);
  const source = {
    policy: r.policy,
    text: POLICY,
    source: 'p.yaml',
    sha: createHash('sha256').update(POLICY).digest('hex'),
  };
  const req = {
    source,
    actor: 'alice',
    gatewayIp: null,
    bridgeMac: () => '02:00:00:00:00:01',
    portLevelOk: true,
    dryRun: false,
  };
  assert.equal(b.status().loaded, false);
  const applied = await b.apply(req);
  assert.equal(applied.result?.changed, true);
  assert.equal((await b.apply(req)).result?.changed, false, 'an unchanged policy is left alone');
  const s = b.status();
  assert.equal(s.loaded, true);
  assert.equal(s.applied?.sha, source.sha);
  assert.equal(s.applied?.actor, 'alice');
  assert.equal(s.gateway.state, 'none');

  const t0 = Math.floor(Date.now() / 1000);
  const blocked = await b.block('10.78.0.66', 300, 'playbook: scan from a laptop');
  assert.deepEqual(
    { ...blocked, until: 0 },
    {
      address: '10.78.0.66',
      ttlSeconds: 300,
      until: 0,
      comment: 'playbook: scan from a laptop',
    },
  );
  assert.ok(blocked.until >= t0 + 300 && blocked.until <= t0 + 302);
  const listed = b.status().blocked;
  assert.deepEqual(
    listed.map((x) => x.ip),
    ['10.78.0.66'],
  );
  assert.ok(listed[0]!.expiresIn !== null && listed[0]!.expiresIn <= 300);
  await assert.rejects(b.block('10.78.0.67', 0), /at least 1/, 'a block without an end is refused');
  await assert.rejects(b.block('10.78.0.67; flush ruleset', 60), /not an IPv4 or IPv6 address/);
  assert.deepEqual(await b.unblock('10.78.0.66', 'undo'), {
    address: '10.78.0.66',
    comment: 'undo',
  });
  assert.deepEqual(b.status().blocked, []);

  // IPv6 hosts are blocked the same way, listed in the spelling nft gives back, and unblocked by any spelling.
  const v6 = await b.block('FD00:78:0:0::66', 300, 'playbook: scan over IPv6');
  assert.equal(v6.address, 'fd00:78::66');
  await b.block('10.78.0.66', 300);
  assert.deepEqual(
    b
      .status()
      .blocked.map((x) => x.ip)
      .sort(),
    ['10.78.0.66', 'fd00:78::66'],
  );
  await b.unblock('fd00:78:0:0:0:0:0:66');
  await b.unblock('10.78.0.66');
  assert.deepEqual(b.status().blocked, []);
  for (const bad of ['fe80::1%eth0', '::ffff:10.78.0.66', 'fd00::/64', 'fd00::66; flush ruleset'])
    await assert.rejects(b.block(bad, 60), /not an IPv4 or IPv6 address/, bad);

  const flow = {
    client: '10.78.0.5',
    server: '10.78.0.20',
    transport: 'tcp' as const,
    port: 44818,
  };
  assert.equal((await b.permit(flow, 600, 'vendor session')).ttlSeconds, 600);
  assert.equal(b.status().permits.length, 1);
  // The permit operations the playbooks use: list, revoke, restore.
  const listedPermits = await b.permits();
  assert.deepEqual(
    listedPermits.map(({ expiresIn: _, ...f }) => f),
    [flow],
  );
  assert.ok(listedPermits[0]!.expiresIn !== null && listedPermits[0]!.expiresIn <= 600);
  // Weir's own records say the same, without listing the kernel.
  const granted = () => b.grantedPermits().map(({ expiresIn: _, ...f }) => f);
  assert.deepEqual(granted(), [flow]);
  assert.ok(b.grantedPermits()[0]!.expiresIn! <= 600);
  await b.revokePermit(listedPermits[0]!, 'playbook: revoke');
  assert.deepEqual(await b.permits(), []);
  assert.deepEqual(granted(), []);
  await b.restorePermit(flow, 120, 'undo');
  const restored = await b.permits();
  assert.equal(restored.length, 1);
  assert.deepEqual(granted(), [flow]);
  assert.ok(restored[0]!.expiresIn !== null && restored[0]!.expiresIn <= 120);
  await assert.rejects(b.permit({ ...flow, port: 70000 }, 60), /not a port/);
  await b.revokePermit(flow);

  // IPv6 permits: granted, listed beside IPv4 ones, revoked and restored alike; families are never mixed.
  const flow6 = {
    client: 'fd00:78::5',
    server: 'fd00:78::20',
    transport: 'tcp' as const,
    port: 502,
  };
  assert.deepEqual((await b.permit({ ...flow6, client: 'FD00:78:0::5' }, 600)).flow, flow6);
  await b.permit(flow, 600);
  assert.deepEqual(
    (await b.permits()).map(({ expiresIn: _, ...f }) => f).sort((x, y) => x.port - y.port),
    [flow6, flow],
  );
  assert.equal(b.status().permits.length, 2);
  await b.revokePermit(flow6);
  assert.deepEqual(
    (await b.permits()).map(({ expiresIn: _, ...f }) => f),
    [flow],
  );
  await b.restorePermit(flow6, 120);
  assert.equal((await b.permits()).length, 2);
  await assert.rejects(
    b.permit({ ...flow6, server: '10.78.0.20' }, 60),
    /two addresses of one family/,
  );

  // Unsteering (the service manager's stop hook) drops no rule and no block, and may be repeated.
  const beforeUnsteer = b.status();
  b.unsteer();
  assert.equal(b.unsteer(), 0, 'nothing held after an unsteer');
  assert.equal(b.status().loaded, true);
  assert.deepEqual(b.status().blocked.length, beforeUnsteer.blocked.length);
  assert.equal(b.status().live.length, 0);

  assert.equal(b.remove('bob'), true);
  const after = b.status();
  assert.equal(after.loaded, false);
  assert.equal(after.applied?.removedBy, 'bob', 'the host record says who removed it');
  assert.equal(b.remove('bob'), false, 'nothing left to remove');
  b.close();
}
