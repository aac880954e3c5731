// Layer 2 across an enforcing bridge (review 12, R8): every non-IP ethertype crossed whatever the zones said — a
// PROFINET DCP Set (rename, re-address, reset to factory) or a forged GOOSE reached the enforced PLCs from any host.
// Real frames between namespaces: what the control zone's layer-2 rules refuse is dropped while it enforces, only
// counted while it simulates, untouched while it monitors, and shown by a simulation of the recorded traffic; the
// plant's own layer 2 (DCP Identify, PROFINET RT, the named publisher's GOOSE, the engineering station's DCP Set,
// ARP under the allowed IP flow) keeps flowing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant, type Host } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { cli, labPolicyStore, sleep } from './lab-kit.js';

const FRAMES = path.join(repoRoot, 'test/enforce/frames.py');

const hexOf = (s: string): string => Buffer.from(s).toString('hex');
/** DCP Set NameOfStation (frame id 0xfefd, service 4, request) naming `name`. */
const dcpSet = (name: string): string => {
  const block = `0202${(2 + name.length).toString(16).padStart(4, '0')}0001${hexOf(name)}`;
  const pad = name.length % 2 ? '00' : '';
  return `fefd0400000000010000${((block.length + pad.length) / 2).toString(16).padStart(4, '0')}${block}${pad}`;
};
/** DCP Identify All (frame id 0xfefe, service 5, request) with `mark` in a NameOfStation filter. */
const dcpIdentify = (mark: string): string =>
  `fefe0500000000020001${(4 + mark.length).toString(16).padStart(4, '0')}0202${mark.length.toString(16).padStart(4, '0')}${hexOf(mark)}`;
/** A GOOSE frame: APPID, length, reserved, then `mark` where the APDU would start. */
const goose = (mark: string): string => `00010030000000006181${hexOf(mark)}`;
/** A PROFINET RT cyclic frame (frame id 0x8001). */
const rtCyclic = (mark: string): string => `8001${hexOf(mark)}`;

const policy = (macs: Record<string, string>, control: string): string => `weir: policy/1
timezone: UTC
assets:
  - { name: HMI-1, ip: ${HOSTS.hmi}, mac: "${macs.hmi}" }
  - { name: EWS-1, ip: ${HOSTS.ews}, mac: "${macs.ews}" }
  - { name: HIST-1, ip: ${HOSTS.historian} }
  - { name: PLC-1, ip: ${HOSTS.plc1}, mac: "${macs.plc1}" }
  - { name: PLC-2, ip: ${HOSTS.plc2}, mac: "${macs.plc2}" }
zones:
  - { name: supervisory, members: [HMI-1, EWS-1, HIST-1], mode: monitor, layer2: { publishers: [] } }
  - name: control
    members: [PLC-1, PLC-2]
    mode: ${control}
    simulation_window: 1m
    layer2: { engineering: [EWS-1], publishers: [PLC-2] }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - { name: hmi-plc1, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-1], ports: [502], access: read-write }
`;

test(
  'layer-2 lab: DCP Set from unnamed hosts and forged GOOSE do not reach an enforcing zone; the plant layer 2 flows; simulate and monitor drop nothing',
  { timeout: 300_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the layer-2 lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-l2-'));
    const lab = Plant.up(`weir-l2-${process.pid}`);
    const stateDir = path.join(dir, 'state');
    const weir = (...args: string[]): string =>
      lab.exec('fw', process.execPath, [
        cli,
        ...args,
        ...(args[0] === 'enforce' ? ['--state-dir', stateDir] : []),
      ]);
    const mac = (h: Host): string => lab.mac(h);
    const frames = (h: Host, ...args: string[]): string =>
      lab.exec(h, 'python3', [FRAMES, ...args], { timeoutMs: 10_000 });
    /** Whether a frame carrying `mark` reaches `to` while `act` runs. */
    const reached = async (to: Host, mark: string, act: () => void): Promise<boolean> => {
      const p = lab.spawn(to, 'python3', [FRAMES, 'sniff', 'eth0', '15', mark]);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 100 && !out.includes('READY'); i++) await sleep(50);
      act();
      await sleep(400);
      if (p.exitCode === null && p.signalCode === null)
        await new Promise<void>((r) => {
          p.once('close', () => r());
          p.kill('SIGTERM');
        });
      return out.includes('GOT');
    };
    let n = 0;
    /** Send one frame of `hex(mark)` from `from` to `dst` (a host or a group MAC); whether it reached `to`. */
    const crosses = (
      from: Host,
      to: Host,
      dst: string,
      etype: string,
      tags: string,
      hex: (mark: string) => string,
    ): Promise<boolean> => {
      const mark = `weir-l2-${n++}-x`;
      return reached(to, mark, () => {
        frames(from, 'hex', 'eth0', dst, etype, tags, hex(mark));
      });
    };
    const holes: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok) holes.push(what);
    };
    try {
      const macs = Object.fromEntries(
        (['hmi', 'ews', 'plc1', 'plc2'] as const).map((h) => [h, mac(h)]),
      );
      const auth = await labPolicyStore(dir, policy(macs, 'enforce'));
      const apply = (): string =>
        weir(
          'enforce',
          'apply',
          ...auth,
          '--family',
          'bridge',
          '--bridge',
          'br0',
          '--port-level-ok',
        );
      const applied = apply();
      assert.match(applied, /enforcing control/);
      check(
        /refused: layer 2: PROFINET DCP Set\/Reset to zone control/.test(applied),
        `apply says DCP Set is refused: ${applied}`,
      );
      check(
        /refused: layer 2: PROFINET DCP Set\/Reset to a multicast/.test(applied),
        'apply says DCP Set to group addresses is refused',
      );
      check(/refused: layer 2: GOOSE\/SV/.test(applied), 'apply says forged GOOSE is refused');
      check(
        /not filtered: layer 2 frames of blocked sources/.test(applied),
        'apply says what is not filtered',
      );
      check(/unchanged/.test(apply()), 'a second apply of the same policy changes nothing');
      const stop = lab.capture(path.join(dir, 'l2.pcap'));
      await sleep(500);

      // Refused while the control zone enforces.
      check(
        !(await crosses('attacker', 'plc1', macs.plc1!, '8892', 'none', dcpSet)),
        'R8: DCP Set NameOfStation from the attacker reaches PLC-1',
      );
      check(
        !(await crosses('hmi', 'plc1', macs.plc1!, '8892', '0', dcpSet)),
        'R8: DCP Set (priority-tagged) from HMI-1, not named engineering, reaches PLC-1',
      );
      check(
        !(await crosses('attacker', 'plc1', 'ff:ff:ff:ff:ff:ff', '8892', 'none', dcpSet)),
        'R8: DCP Set to the broadcast address reaches PLC-1',
      );
      check(
        !(await crosses('attacker', 'plc1', '01:0c:cd:01:00:01', '88b8', 'none', goose)),
        'R8: a forged GOOSE from the attacker reaches PLC-1',
      );
      check(
        !(await crosses('attacker', 'plc1', '01:0c:cd:04:00:01', '88ba', 'none', goose)),
        'R8: forged Sampled Values from the attacker reach PLC-1',
      );
      // The plant's own layer 2 keeps flowing.
      check(
        await crosses('ews', 'plc1', macs.plc1!, '8892', 'none', dcpSet),
        'DCP Set from the engineering station EWS-1 is dropped',
      );
      check(
        await crosses('hmi', 'plc1', '01:0e:cf:00:00:00', '8892', '0', dcpIdentify),
        'DCP Identify from HMI-1 is dropped',
      );
      check(
        await crosses('plc2', 'plc1', macs.plc1!, '8892', '0', rtCyclic),
        'PROFINET RT cyclic frames PLC-2 -> PLC-1 are dropped',
      );
      check(
        await crosses('plc2', 'plc1', '01:0c:cd:01:00:01', '88b8', 'none', goose),
        "the named publisher PLC-2's GOOSE is dropped",
      );
      check(
        /^ANSWER/.test(
          await (async () => {
            let a = '';
            const p = lab.spawn('plc1', 'python3', [FRAMES, 'serve', 'tcp', '502', '15']);
            let out = '';
            p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
            for (let i = 0; i < 100 && !out.includes('READY'); i++) await sleep(50);
            a = frames('hmi', 'ask', 'tcp', HOSTS.plc1, '502', '0').trim();
            p.kill('SIGTERM');
            return a;
          })(),
        ),
        'HMI-1 polls PLC-1 tcp/502 (ARP and IP pass)',
      );
      const status = JSON.parse(weir('enforce', 'status', '--json')) as {
        counters: Array<{ rule: string; packets: number }>;
        refused: string[];
        layer2: string[];
      };
      const count = (re: RegExp): number =>
        status.counters.filter((c) => re.test(c.rule)).reduce((s, c) => s + c.packets, 0);
      check(
        count(/^refused: layer 2: PROFINET DCP/) >= 2,
        `DCP Sets counted: ${JSON.stringify(status.counters)}`,
      );
      check(count(/^refused: layer 2: GOOSE/) >= 2, 'forged GOOSE/SV counted');
      check(
        status.layer2.some((x) => /not filtered: layer 2 frames of blocked sources/.test(x)) ||
          /not filtered/.test(weir('enforce', 'status')),
        'status says what layer 2 is not filtered',
      );

      // Simulate: nothing dropped, what enforce would refuse is counted.
      await labPolicyStore(dir, policy(macs, 'simulate'));
      check(/simulating control/.test(apply()), 'the simulate policy loads');
      check(
        await crosses('attacker', 'plc1', macs.plc1!, '8892', 'none', dcpSet),
        'simulate mode drops the attacker DCP Set',
      );
      check(
        await crosses('attacker', 'plc1', '01:0c:cd:01:00:01', '88b8', 'none', goose),
        'simulate mode drops a forged GOOSE',
      );
      const sim = JSON.parse(weir('enforce', 'status', '--json')) as {
        counters: Array<{ rule: string; packets: number }>;
      };
      const would = (re: RegExp): number =>
        sim.counters.filter((c) => re.test(c.rule)).reduce((s, c) => s + c.packets, 0);
      check(
        would(/^would refuse: layer 2: PROFINET DCP/) >= 1,
        'simulate counts the DCP Set it would refuse',
      );
      check(
        would(/^would refuse: layer 2: GOOSE/) >= 1,
        'simulate counts the GOOSE it would refuse',
      );

      // Monitor: no layer-2 rule at all.
      await labPolicyStore(dir, policy(macs, 'monitor'));
      apply();
      check(
        await crosses('attacker', 'plc1', macs.plc1!, '8892', 'none', dcpSet),
        'monitor mode drops the attacker DCP Set',
      );
      check(
        await crosses('attacker', 'plc1', '01:0c:cd:01:00:01', '88b8', 'none', goose),
        'monitor mode drops a forged GOOSE',
      );

      // The recorded traffic, simulated against the enforcing policy, shows the layer-2 refusals.
      // tcpdump may not have written the last frames yet: the counts below leave the monitor phase's out.
      await sleep(1500);
      await stop();
      const file = path.join(dir, 'enforce.yaml');
      writeFileSync(file, policy(macs, 'enforce'));
      const report = JSON.parse(
        weir('policy', 'simulate', file, '--capture', path.join(dir, 'l2.pcap'), '--json'),
      ) as { layer2: Array<{ kind: string; src: string; frames: number }> };
      const rows = (kind: string, src: string): number =>
        report.layer2
          .filter((r) => r.kind === kind && r.src === src)
          .reduce((s, r) => s + r.frames, 0);
      const attacker = mac('attacker');
      check(
        rows('dcp_set', attacker) >= 2,
        `simulation shows the attacker's DCP Sets: ${JSON.stringify(report.layer2)}`,
      );
      check(rows('dcp_set', macs.hmi!) >= 1, "simulation shows HMI-1's DCP Set");
      check(
        rows('goose_publisher', attacker) >= 3,
        `simulation shows the forged GOOSE/SV: ${JSON.stringify(report.layer2)}`,
      );
      check(
        rows('dcp_set', macs.ews!) + rows('goose_publisher', macs.plc2!) === 0,
        'simulation refuses the engineering station or the named publisher',
      );
      assert.deepEqual(holes, []);
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
