// A frame "from" the gateway's own address, arriving on a bridge port, skipped the gateway (review 12, L7): the
// steer chain exempted that source, and a group whose clients are a subnet holding the gateway let it through to
// the PLC. The gateway's own frames leave through the host, never through a port, so such a frame is spoofed:
// it is dropped and counted. Raw frames on an enforcing bridge in namespaces; a real member of the subnet still
// reaches the PLC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { gatewayTargets } from '../../src/enforce/steer.js';
import { applyRuleset, removeRuleset, status } from '../../src/enforce/nft.js';
import { canBuildLab, HOSTS, Plant, type Host } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { GATEWAY_IP, sleep } from './lab-kit.js';

const FRAMES = path.join(repoRoot, 'test/enforce/frames.py');

const POLICY = `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.0/28], mode: monitor }
  - { name: control, members: [${HOSTS.plc1}], mode: enforce, simulation_window: 1m }
conduits: [{ name: sup-ctl, from: supervisory, to: control }]
groups:
  - { name: scada, conduit: sup-ctl, clients: [10.77.0.0/28], servers: [${HOSTS.plc1}], protocol: modbus, access: read-only }
  - { name: io, conduit: sup-ctl, clients: [10.77.0.0/28], servers: [${HOSTS.plc1}], ports: [2222], transport: udp, access: read-write }
`;

test(
  'a frame from a bridge port carrying the gateway address is dropped, not let past the gateway (review 12, L7)',
  { timeout: 120_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the spoof lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const r = parsePolicy(POLICY, 'p.yaml');
    assert.ok(r.ok);
    const cp = new CompiledPolicy(r.policy);
    const rs = compileRuleset(cp, {
      family: 'bridge',
      steer: { gatewayIp: GATEWAY_IP, targets: gatewayTargets(cp, GATEWAY_IP) },
      bridgeMac: '02:00:00:00:00:01',
    });
    const lab = Plant.up();
    const target = { family: 'bridge' as const, netns: lab.ns('fw') };
    const mac = (h: Host): string => lab.mac(h);
    /** One raw UDP frame from the attacker's port with source `src`, to a listener on PLC-1:2222. */
    const delivered = async (src: string): Promise<boolean> => {
      const p = lab.spawn('plc1', 'python3', [FRAMES, 'listen', '2222', '10']);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 100 && !out.includes('READY'); i++) await sleep(50);
      lab.exec('attacker', 'python3', [
        FRAMES,
        'send',
        'eth0',
        mac('plc1'),
        src,
        HOSTS.plc1,
        '40000',
        '2222',
        'none',
        'spoof',
      ]);
      await sleep(400);
      p.kill('SIGTERM');
      return out.includes('GOT');
    };
    try {
      applyRuleset(target, rs);
      assert.equal(await delivered(HOSTS.hmi), true, 'a member of the subnet reaches the PLC');
      assert.equal(
        await delivered(GATEWAY_IP),
        false,
        "the gateway's address from a port does not reach the PLC",
      );
      const c = status(target).counters.find((x) => /gateway's address/.test(x.rule));
      assert.ok(c !== undefined && c.packets >= 1, 'counted under its own refusal');
      removeRuleset(target);
    } finally {
      await lab.down();
    }
  },
);
