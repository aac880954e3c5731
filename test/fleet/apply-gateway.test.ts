// A fleet policy at a site with a gateway (settings) steers its limited groups to it, as `weir enforce apply
// --gateway-ip` does; at a site without one they are enforced port-level only, and that is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { stateApplier } from '../../src/fleet/apply-state.js';
import { enforcementPlan } from '../../src/enforce/steer.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import type { EnforcementBackend } from '../../src/enforce/backend.js';
import { MemoryBackend } from './fleet-kit.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.79.0.0/28], mode: monitor }
  - { name: ctl, members: [10.79.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi-read, conduit: c, clients: [10.79.0.2], servers: [10.79.0.17], protocol: modbus, functions: [3], access: read-only }
  - { name: ews, conduit: c, clients: [10.79.0.3], servers: [10.79.0.17], ports: [502], access: read-write }
`;

/** Records the apply request and answers with the plan the nftables backend would compute for it. */
class PlanBackend extends MemoryBackend {
  req: Parameters<EnforcementBackend['apply']>[0] | null = null;
  mac = '';
  override apply(
    req: Parameters<EnforcementBackend['apply']>[0],
  ): ReturnType<EnforcementBackend['apply']> {
    this.req = req;
    const plan = enforcementPlan(new CompiledPolicy(req.source.policy), req.gatewayIp, {
      portLevelOk: req.portLevelOk,
    });
    if (plan.targets.length > 0) this.mac = req.bridgeMac();
    return Promise.resolve({ plan, ruleset: null, result: null, gateway: 'not running' } as never);
  }
}

const doc = {
  format: 'weir-state/1' as const,
  kind: 'policy' as const,
  version: 4,
  issued: '',
  publisher: 'weir-manager',
  keyId: 'k',
  body: { text: POLICY, source: 'fleet.yaml' },
};

test('with a gateway the limited group is steered to it; without one it is port-level and reported', async () => {
  const withGw = new PlanBackend();
  const told: string[] = [];
  await stateApplier(withGw, {
    site: 'a',
    gateway: { ip: '10.79.0.30', bridge: 'lo' },
    onPortLevel: (g) => told.push(...g.map((x) => x.group)),
  })(doc, null);
  assert.equal(withGw.req?.gatewayIp, '10.79.0.30');
  assert.equal(
    withGw.mac,
    readFileSync('/sys/class/net/lo/address', 'utf8').trim(),
    'the bridge MAC read',
  );
  assert.equal(told.length, 0, 'nothing left unchecked');

  const bare = new PlanBackend();
  await stateApplier(bare, {
    site: 'b',
    gateway: null,
    onPortLevel: (g) => told.push(...g.map((x) => x.group)),
  })(doc, null);
  assert.equal(bare.req?.gatewayIp, null);
  assert.equal(bare.req?.portLevelOk, true);
  assert.throws(() => bare.req!.bridgeMac(), /runs no gateway/);
  assert.deepEqual(told, ['hmi-read'], 'the limited group, reported; the whole-port group is not');
});
