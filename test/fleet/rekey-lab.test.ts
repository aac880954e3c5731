// The stolen-key attack across hosts, every part a process of its own in the plant's network namespaces: the
// hub (`weir manager run`) in `fw` on the plant bridge's address, the real site (`weir node`) on the HMI host,
// the thief (`weir node` with a copy of the site's kit) on the attacker's host. While the site is down for
// maintenance the thief links as the site and reports as it. `weir manager site rekey` (in `fw`, as a proven
// admin) must cut the thief's open link — found by the hub's monitor, closed by address and port — and refuse
// it from then on; the site, back with its new kit, carries on with its records at the manager kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { canBuildLab, HOSTS, Plant, type Host } from '../lab/plant.js';
import { GATEWAY_IP, sleep } from '../enforce/lab-kit.js';
import { labWeir } from './lab-weir.js';
import { approvedStore } from '../helpers/approved-store.js';

const HUB = GATEWAY_IP;
const POLICY = `weir: policy/1
zones: [{ name: plant, members: [${HOSTS.plc1}], mode: monitor }]
`;

test(
  "a stolen site key used from another host: re-keyed, the thief's link is cut and refused, the site carries on",
  { timeout: 180_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true')
        throw new Error('the fleet re-key lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-rekey-lab-'));
    const { auth } = await approvedStore(dir, POLICY);
    const lab = Plant.up();
    const mdir = path.join(dir, 'manager');
    const settings = path.join(dir, 'weir.yaml');
    writeFileSync(settings, 'weir: settings/1\nfleet:\n  health_every_s: 1\n');
    const w = labWeir(lab, settings);
    const weir = w.run;
    const start = w.start;
    const stop = w.stop;
    const node = (host: Host, kit: string, nodeDir: string) =>
      start(host, /weir node: ready/, [
        'node',
        '--site',
        'plant',
        '--kit',
        kit,
        '--dir',
        nodeDir,
        '--hub',
        `nats-leaf://${HUB}:17422`,
        '--listen',
        '14223',
        '--state-dir',
        path.join(nodeDir, 'enforce'),
        '--without-baseline-guard',
      ]);
    /** Records the manager holds from the site (health every second), and the hub's open leaf links. */
    const records = (): number => {
      const d = new Database(path.join(mdir, 'manager.db'), { readonly: true });
      try {
        return (
          d.prepare("SELECT count(*) AS n FROM fleet_records WHERE site = 'plant'").get() as {
            n: number;
          }
        ).n;
      } finally {
        d.close();
      }
    };
    const links = (): Array<{ ip: string }> =>
      (
        JSON.parse(
          lab.exec('fw', process.execPath, [
            '-e',
            "fetch('http://127.0.0.1:18222/leafz').then((r) => r.text()).then((t) => process.stdout.write(t))",
          ]),
        ) as { leafs?: Array<{ ip: string }> }
      ).leafs ?? [];
    const until = async (what: string, f: () => boolean, ms = 20_000): Promise<void> => {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) if (f()) return;
      throw new Error(`timed out waiting for ${what}`);
    };
    try {
      lab.exec('fw', 'ip', ['addr', 'add', `${HUB}/24`, 'dev', 'br0']);
      weir('fw', 'manager', 'init', '--dir', mdir, '--host', HUB);
      weir('fw', 'manager', 'site', 'add', 'plant', '--dir', mdir, ...auth);
      const stolen = path.join(dir, 'stolen-kit');
      cpSync(path.join(mdir, 'sites', 'plant'), stolen, { recursive: true });
      await start('fw', /weir manager: ready/, [
        'manager',
        'run',
        '--dir',
        mdir,
        '--listen',
        '127.0.0.1:14222',
        '--leaf',
        `${HUB}:17422`,
        '--monitor',
        '18222',
      ]);

      // The site reports; then it is down for maintenance.
      const siteDir = path.join(dir, 'site');
      let site = await node('hmi', path.join(mdir, 'sites', 'plant'), siteDir);
      await until('the site reports', () => records() >= 2);
      await stop(site);
      const earlier = records();

      // The thief links as the site from the attacker's host, and is taken for it.
      const thief = await node('attacker', stolen, path.join(dir, 'thief'));
      await until("the thief's reports stored as the site's", () => records() >= earlier + 2);
      assert.deepEqual(
        links().map((l) => l.ip),
        [HOSTS.attacker],
      );

      const rekey = weir('fw', 'manager', 'site', 'rekey', 'plant', '--dir', mdir, ...auth);
      assert.match(rekey, /key of enrolment 1 revoked at the running hub; new kit \(enrolment 2\)/);
      assert.match(rekey, /1 open link of the old key closed/);
      await until('the thief cut off', () => links().length === 0, 20_000);
      await sleep(1500);
      const cut = records();
      await sleep(4000); // the thief's leaf retries every second, its node reports every second
      assert.equal(thief.proc.exitCode, null, 'the thief keeps trying');
      assert.equal(links().length, 0, "the thief's old key is refused");
      assert.equal(records(), cut, 'nothing more from the old key');

      // The site, with its new kit installed, is back under its name with its earlier records.
      site = await node('hmi', path.join(mdir, 'sites', 'plant'), siteDir);
      await until('the site reports again', () => records() >= cut + 2);
      assert.deepEqual(
        links().map((l) => l.ip),
        [HOSTS.hmi],
        'only the site, never the thief',
      );
      await stop(thief);
      await stop(site);
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
