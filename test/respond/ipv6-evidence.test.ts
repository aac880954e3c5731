// Enforcing refuses IPv6 crossing the host when the policy names no IPv6 host (review 12, R3); the simulator
// judges flows by the policy's zones, where an IPv6 flow is in none. So the baseline's IPv6 flows are what an
// apply is held to here, or enforcing would cut them while the simulation says nothing (review 12b, B1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { ipv6Cuts } from '../../src/respond/evidence.js';
import type { Baseline } from '../../src/discover/baseline.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';

const policy = (extra = ''): CompiledPolicy => {
  const r = parsePolicy(
    `weir: policy/1
assets: [{ name: HMI-1, ip: 10.77.0.10 }, { name: PLC-1, ip: 10.77.0.21 }]
zones:
  - { name: sup, members: [HMI-1${extra}], mode: monitor }
  - { name: ctl, members: [PLC-1], mode: enforce }
`,
    'p.yaml',
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return new CompiledPolicy(r.policy);
};

test('a baseline IPv6 flow holds back an apply whose policy names no IPv6; naming the hosts lets it through', () => {
  const b = plantBaseline();
  assert.equal(ipv6Cuts(b, policy()), null, 'an IPv4-only baseline: nothing cut');
  const v6: Baseline = structuredClone(b);
  const edge = Object.values(v6.edges)[0]!;
  v6.edges['v6'] = { ...edge, id: 'v6', client: 'fe80::10', server: 'fe80::21', port: 445 };
  assert.match(
    String(ipv6Cuts(v6, policy())),
    /refuses IPv6.*1 IPv6 flow\(s\): fe80::10 → fe80::21 tcp\/445/,
  );
  assert.ok(policy(", 'fe80::10/128'").namesIpv6());
  assert.equal(ipv6Cuts(v6, policy(", 'fe80::10/128'")), null);
});
