// A fleet policy reaching a site's real gateway. The plant runs in network namespaces (test/lab/plant.ts): a
// real pymodbus PLC, an HMI and an attacker on a bridge inside the `fw` namespace. There run, as processes of
// their own: the manager's hub (`weir manager run`), the site (`weir node` with settings enforce.gateway_ip and
// enforce.bridge, nftables bridge family) and the inline gateway (`weir gateway`). The manager signs and pushes
// the store's approved policy; the node verifies and applies it, steering the limited group to the gateway.
// Attack: the HMI may only read the PLC's holding registers. Its write must never reach the PLC (the register
// keeps its value, the gateway logs the refusal), its read must pass with the PLC's real values, and a host
// in no group gets no connection at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { startPlcs } from '../lab/scenario.js';
import { agent, cli, GATEWAY_IP, labPolicyStore, plantPolicy, sleep } from '../enforce/lab-kit.js';
import { labWeir } from './lab-weir.js';

const POLICY = plantPolicy(
  `  - { name: hmi-reads, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-1], protocol: modbus,
      functions: [read_holding_registers], access: read-only }
`,
);

interface Probe {
  op: string;
  ok: boolean;
  data?: number[];
  modbusCode?: number | null;
}

test(
  "a fleet policy pushed by the manager is enforced by the site's real gateway",
  { timeout: 180_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true')
        throw new Error('the fleet gateway lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-fleet-gw-'));
    const auth = await labPolicyStore(dir, POLICY);
    const lab = Plant.up();
    const mdir = path.join(dir, 'manager');
    const stateDir = path.join(dir, 'state');
    const log = path.join(dir, 'gateway.jsonl');
    const settings = path.join(dir, 'weir.yaml');
    writeFileSync(
      settings,
      `weir: settings/1\nenforce:\n  gateway_ip: ${GATEWAY_IP}\n  bridge: br0\n`,
    );
    const w = labWeir(lab, settings);
    const weir = (...args: string[]): string => w.run('fw', ...args);
    const probe = (host: 'hmi' | 'attacker', ...ops: string[]): Probe[] =>
      lab
        .exec(host, process.execPath, [agent, 'probe', HOSTS.plc1, ...ops], { timeoutMs: 20_000 })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Probe);
    const events = (): Array<Record<string, unknown>> =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];
    try {
      await startPlcs(lab);
      lab.exec('fw', 'ip', ['addr', 'add', `${GATEWAY_IP}/24`, 'dev', 'br0']);
      // Before the fleet policy the plant is open: the attacker reads, and the HMI's writes reach the PLC.
      assert.equal(probe('attacker', 'read:0:1')[0]!.ok, true);
      assert.equal(probe('hmi', 'write:7:77')[0]!.ok, true);

      weir('manager', 'init', '--dir', mdir);
      weir('manager', 'site', 'add', 'plant', '--dir', mdir, ...auth);
      await w.start('fw', /weir manager: ready/, [
        'manager',
        'run',
        '--dir',
        mdir,
        '--listen',
        '127.0.0.1:14222',
        '--leaf',
        '127.0.0.1:17422',
        '--monitor',
        '18222',
      ]);
      const node = await w.start('fw', /weir node: ready/, [
        'node',
        '--site',
        'plant',
        '--kit',
        path.join(mdir, 'sites', 'plant'),
        '--dir',
        path.join(dir, 'node'),
        '--hub',
        'nats-leaf://127.0.0.1:17422',
        '--listen',
        '14223',
        '--family',
        'bridge',
        '--state-dir',
        stateDir,
        '--without-baseline-guard',
      ]);

      // The manager signs the store's approved policy and pushes it; the site verifies and applies it.
      assert.match(
        weir('manager', 'policy', 'push', '--dir', mdir, ...auth),
        /pushed to every site as v1/,
      );
      for (let i = 0; i < 200 && !/applied policy v1/.test(node.said()); i++) await sleep(100);
      assert.match(node.said(), /applied policy v1/);
      assert.doesNotMatch(node.said(), /REFUSED|port-level/i, 'steered, not left to port level');
      const gw = lab.spawn('fw', process.execPath, [
        cli,
        'gateway',
        '--state-dir',
        stateDir,
        '--listen',
        GATEWAY_IP,
        '--log',
        log,
      ]);
      gw.stdout!.resume();
      gw.stderr!.resume();
      for (let i = 0; i < 100 && !events().some((e) => e.event === 'gateway_started'); i++)
        await sleep(100);
      assert.ok(
        events().some((e) => e.event === 'gateway_started'),
        JSON.stringify(events()),
      );

      // The HMI's read passes with the PLC's own values; its write is refused and never reaches the PLC.
      const hmi = probe('hmi', 'read:0:3', 'write:5:99');
      assert.equal(hmi[0]!.ok, true, JSON.stringify(hmi));
      assert.deepEqual(hmi[0]!.data, [10, 20, 30], 'values from the real PLC');
      assert.equal(hmi[1]!.ok, false, JSON.stringify(hmi));
      assert.equal(hmi[1]!.modbusCode, 1, 'Illegal Function from the gateway');
      assert.deepEqual(probe('hmi', 'read:5:1')[0]!.data, [60], 'register 5 is unchanged');
      await sleep(200);
      assert.ok(
        events().some(
          (e) =>
            e.event === 'denied' &&
            e.client === HOSTS.hmi &&
            e.func === 6 &&
            e.reason === 'function_not_allowed',
        ),
        JSON.stringify(events().filter((e) => e.event === 'denied')),
      );
      // A host in no group gets no connection to the enforced zone at all.
      assert.equal(probe('attacker', 'read:0:1')[0]!.ok, false);
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
