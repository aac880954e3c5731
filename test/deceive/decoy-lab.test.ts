import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant, SUBNET } from '../lab/plant.js';
import { runAgent, startPlcs } from '../lab/scenario.js';
import { cli, labPolicyStore, sleep } from '../enforce/lab-kit.js';
import { blockedNow, startRunner } from '../enforce/playbook-kit.js';
import { deriveIdentity } from '../../src/deceive/derive.js';
import { Rng } from '../../src/deceive/random.js';
import type { Asset } from '../../src/discover/model.js';
import {
  DECOY_POLICY,
  learnPlant,
  MODBUS_POOL,
  nmap,
  runDecoys,
  S7_POOL,
  sensor,
} from './decoy-kit.js';

/** `key: value` lines of an NSE script's output in nmap's normal output. */
function scriptFields(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const f = /^\|[_ ]\s*([A-Za-z][A-Za-z -]*?):\s(.*)$/.exec(l);
    if (f) m.set(f[1]!.trim(), f[2]!.trim());
  }
  return m;
}

/** Open ports → the fingerprint an attacker's inventory keeps of them (service line and script fields). */
function inventoryOf(xml: string): Map<string, string> {
  const inv = new Map<string, string>();
  for (const h of xml.split('<host ').slice(1)) {
    const ip = /<address addr="([0-9.]+)" addrtype="ipv4"/.exec(h)?.[1];
    if (!ip) continue;
    for (const p of h.split('<port ').slice(1)) {
      if (!/<state state="open"/.test(p)) continue;
      const port = /portid="(\d+)"/.exec(p)![1];
      const service = /<service ([^>]*)>?/.exec(p)?.[1] ?? '';
      const scripts = [...p.matchAll(/<script id="([^"]+)" output="([^"]*)"/g)].map(
        (s) => `${s[1]}=${s[2]}`,
      );
      inv.set(
        `${ip}:${port}`,
        [service.replace(/conf="\d+"|method="\w+"/g, ''), ...scripts].join(' '),
      );
    }
  }
  return inv;
}

test(
  "decoys in the lab: nmap -sV with the ICS scripts sees the cloned class (identity fields as the real PLCs give them, a different unit); the plant's own traffic never touches one; a toucher is blocked; a rotation makes an earlier scan wrong",
  { timeout: 600_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the decoy lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-decoylab-'));
    // Ten years: the schedule moves decoys at each period's boundary counted from the epoch (a week's falls on
    // Thursday 00:00 UTC), so a short period could move them mid-test; this test moves them itself (SIGUSR2).
    const auth = await labPolicyStore(dir, DECOY_POLICY('520w'));
    const db = auth[auth.indexOf('--db') + 1]!;
    const stateDir = path.join(dir, 'state');
    const lab = Plant.up();
    let decoys: Awaited<ReturnType<typeof runDecoys>> | null = null;
    let stopRunner: (() => Promise<number | null>) | null = null;
    try {
      await startPlcs(lab);
      const normal = await learnPlant(lab, dir, auth);
      const sensorNs = sensor(lab);
      decoys = await runDecoys(lab, sensorNs, auth, stateDir);
      const first = decoys.placements[0]!;
      const mbDecoy = first.get('modbus-decoys')!;
      const s7Decoy = first.get('s7-decoys')!;
      assert.ok(MODBUS_POOL.includes(mbDecoy) && S7_POOL.includes(s7Decoy), decoys.stderr());

      // Modbus: the real pymodbus PLC and its decoy, side by side.
      const sv = ['-sT', '-sV', '--version-light'];
      const realMb = nmap(lab, [...sv, '-p', '502', '--script', 'modbus-discover', HOSTS.plc1]);
      const fakeMb = nmap(lab, [...sv, '-p', '502', '--script', 'modbus-discover', mbDecoy]);
      t.diagnostic(`real Modbus PLC:\n${realMb}\ndecoy:\n${fakeMb}`);
      const rm = scriptFields(realMb),
        fm = scriptFields(fakeMb);
      for (const k of ['Slave ID data', 'Device identification'])
        assert.ok(rm.has(k) && fm.has(k), `${k} in both`);
      assert.match(fm.get('Device identification')!, /^Weir Lab Automation WL-M340\S* 3\.20$/);
      assert.match(rm.get('Device identification')!, /^Weir Lab Automation WL-M340 3\.20$/);

      // S7: the real snap7 server and its decoy.
      const realS7 = nmap(lab, [...sv, '-p', '102', '--script', 's7-info', HOSTS.plc2]);
      const fakeS7 = nmap(lab, [...sv, '-p', '102', '--script', 's7-info', s7Decoy]);
      t.diagnostic(`real S7 PLC:\n${realS7}\ndecoy:\n${fakeS7}`);
      const rs = scriptFields(realS7),
        fs = scriptFields(fakeS7);
      for (const k of [
        'Module',
        'Basic Hardware',
        'Version',
        'System Name',
        'Module Type',
        'Serial Number',
        'Copyright',
      ])
        assert.ok(rs.has(k) && fs.has(k), `${k} in both: ${[...fs.keys()].join(', ')}`);
      for (const k of ['Module', 'Basic Hardware', 'Version', 'Module Type', 'Copyright'])
        assert.equal(fs.get(k), rs.get(k), `same class: ${k}`);
      assert.notEqual(fs.get('Serial Number'), rs.get('Serial Number'), 'a different unit');
      assert.equal(
        fs.get('Serial Number')!.length,
        rs.get('Serial Number')!.length,
        'serial of the same shape',
      );
      assert.match(realS7 + fakeS7, /iso-tsap/);

      // EtherNet/IP and BACnet/IP: no such device runs in the lab, so the clone's source is an inventory record of
      // one (as discovery stores a Rockwell controller that answered ListIdentity and a BACnet controller).
      const rockwell = {
        ips: [`${SUBNET}.23`],
        mac: '00:00:bc:12:34:56',
        macVendor: 'Rockwell Automation',
        hostnames: ['LINE1-PLC'],
        identity: {
          vendor: 'Rockwell Automation/Allen-Bradley',
          product: '1756-L71/B LOGIX5571',
          deviceType: 'Programmable Logic Controller',
          firmware: '20.11',
          serial: '60c1a2b3',
        },
        serves: ['enip', 'bacnet'],
      } as unknown as Asset;
      const cipBacnet = deriveIdentity({
        clone: rockwell,
        zone: [rockwell],
        values: {},
        ip: `${SUBNET}.57`,
        services: ['enip', 'bacnet'],
        rng: new Rng('lab'),
      });
      execFileSync('ip', ['-n', sensorNs, 'addr', 'add', `${SUBNET}.57/24`, 'dev', 'eth0']);
      const serve = spawn(
        'ip',
        ['netns', 'exec', sensorNs, process.execPath, cli, 'decoy', 'serve'],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      serve.stdin.end(JSON.stringify(cipBacnet));
      await new Promise((r) => serve.stdout.once('data', r));
      try {
        const enipTcp = nmap(lab, [
          '-sT',
          '-sV',
          '--version-light',
          '-p',
          '44818',
          '--script',
          'enip-info',
          `${SUBNET}.57`,
        ]);
        const udp = nmap(lab, [
          '-sU',
          '-p',
          '44818,47808',
          '--script',
          'enip-info,bacnet-info',
          `${SUBNET}.57`,
        ]);
        t.diagnostic(`EtherNet/IP over TCP:\n${enipTcp}\nEtherNet/IP and BACnet over UDP:\n${udp}`);
        for (const out of [enipTcp, udp]) {
          const f = scriptFields(out);
          assert.match(f.get('vendor') ?? '', /Rockwell Automation\/Allen-Bradley \(1\)/);
          assert.match(f.get('type') ?? '', /Programmable Logic Controller \(14\)/);
          assert.equal(f.get('productName'), '1756-L71/B LOGIX5571');
          assert.equal(f.get('revision'), '20.11');
          assert.equal(f.get('deviceIp'), `${SUBNET}.57`);
          assert.notEqual(f.get('serialNumber'), '0x60c1a2b3');
        }
        const b = scriptFields(udp);
        assert.match(b.get('Vendor ID') ?? '', /Rockwell Automation/);
        assert.equal(b.get('Vendor Name'), 'Rockwell Automation/Allen-Bradley');
        assert.equal(b.get('Object-identifier'), String(cipBacnet.bacnet.instance));
        assert.equal(b.get('Firmware'), '20.11');
        assert.equal(b.get('Model Name'), '1756-L71/B LOGIX5571');
        assert.equal(b.get('Object Name'), cipBacnet.hostname);
        assert.ok(b.has('Application Software') && b.has('Description'));
      } finally {
        serve.kill('SIGTERM');
        execFileSync('ip', ['-n', sensorNs, 'addr', 'flush', 'dev', 'eth0']);
      }

      // The plant's normal traffic, replayed through detection with the decoys' policy: no decoy contact.
      const replay = execFileSync(process.execPath, [
        cli,
        'detect',
        normal,
        '--baseline',
        db,
        '--jsonl',
      ]).toString();
      assert.doesNotMatch(replay, /decoy_contact/);

      // Moving target: the attacker's inventory of the zone, taken now, against the one after the next rotation.
      const scanArgs = [
        '-sT',
        '-sV',
        '--version-light',
        '-p',
        '80,102,502,8000,8080,8081,8888',
        '--script',
        'modbus-discover,s7-info',
        '-oX',
        '-',
        `${SUBNET}.21-22`,
        `${SUBNET}.51-56`,
      ];
      const before = inventoryOf(nmap(lab, scanArgs));
      assert.ok(before.size >= 4, `the attacker's inventory: ${[...before.keys()].join(' ')}`);
      decoys.child.kill('SIGUSR2'); // move now, as the schedule would at the next period
      // A rotation probes each new address first (RFC 5227, ~3 s).
      for (let i = 0; i < 300 && decoys.placements.length < 2; i++) await sleep(100);
      assert.ok(decoys.placements.length >= 2, `rotated: ${decoys.stderr()}`);
      const after = inventoryOf(nmap(lab, scanArgs));
      const wrong = [...before].filter(([k, v]) => after.get(k) !== v).map(([k]) => k);
      const isDecoy = (k: string) => [...MODBUS_POOL, ...S7_POOL].includes(k.split(':')[0]!);
      const decoyBefore = [...before.keys()].filter(isDecoy);
      const share = wrong.length / before.size;
      const decoyShare = wrong.filter(isDecoy).length / decoyBefore.length;
      t.diagnostic(
        `MTD: before ${before.size} open services (${decoyBefore.length} on decoys); after one rotation ${wrong.length} of them wrong (${(share * 100).toFixed(0)}% of the inventory, ${(decoyShare * 100).toFixed(0)}% of its decoy entries): ${wrong.join(' ')}`,
      );
      assert.ok(decoyShare > 0, 'the rotation changed what the attacker saw of the decoys');
      assert.ok(wrong.every(isDecoy), 'the real PLCs stayed as they were');
      const audit = execFileSync(process.execPath, [cli, 'policy', 'audit', '--db', db]).toString();
      assert.match(audit, /decoys\.started/);
      assert.match(audit, /decoys\.rotated/);

      // The playbook: whoever touches a decoy is blocked; the HMI polling alongside is not.
      lab.exec('fw', process.execPath, [
        cli,
        'enforce',
        'apply',
        ...auth,
        '--family',
        'bridge',
        '--state-dir',
        path.join(dir, 'enf'),
      ]);
      // The attacker's scans end with its kernel still resolving addresses it probed (ARP for retired decoy
      // addresses, retried for ~3 s): let that settle, so the check below is about the plant at work.
      lab.exec('attacker', 'ip', ['neigh', 'flush', 'all']);
      await sleep(3500);
      const lines: string[] = [];
      stopRunner = await startRunner(
        lab,
        auth,
        path.join(dir, 'enf'),
        lines,
        undefined,
        /acting control\/decoy-touch/,
      );
      // The plant at work beside live decoys: the HMI and the historian poll as learned; nothing is a contact.
      await Promise.all([
        runAgent(lab, 'hmi', 'hmi', HOSTS.plc1, '3'),
        runAgent(lab, 'historian', 'historian', HOSTS.plc1, HOSTS.plc2, '3'),
      ]);
      await sleep(500);
      // Only the plant's hosts are judged here: the attacker's own scans a moment ago (late retransmissions,
      // neighbour probes towards retired decoy addresses) are contacts too, and may already have blocked it.
      const plantContacts = lines.filter(
        (l) => l.includes('decoy_contact') && !l.includes(HOSTS.attacker),
      );
      assert.deepEqual(plantContacts, [], lines.join('\n'));
      assert.deepEqual(
        blockedNow(lab).filter((ip) => ip !== HOSTS.attacker),
        [],
      );
      const early = blockedNow(lab).includes(HOSTS.attacker);
      if (early)
        t.diagnostic(
          `the attacker was already blocked by a late contact of its scan:\n${lines.join('\n')}`,
        );
      const now = decoys.placements.at(-1)!.get('modbus-decoys')!;
      lab.exec('attacker', process.execPath, [
        '-e',
        `const s=require('net').connect({host:'${now}',port:502});s.on('connect',()=>s.end());s.on('error',()=>{});setTimeout(()=>process.exit(0),500)`,
      ]);
      let blocked: string[] = [];
      for (let i = 0; i < 300 && !blocked.includes(HOSTS.attacker); i++) {
        blocked = blockedNow(lab);
        await sleep(100);
      }
      assert.deepEqual(blocked, [HOSTS.attacker], lines.join('\n'));
      // The runner reports after the kernel has the element: its line may follow the block by a moment.
      for (let i = 0; i < 300 && !lines.some((l) => l.includes('decoy_contact')); i++)
        await sleep(100);
      assert.ok(
        lines.some((l) => l.includes('decoy_contact')),
        lines.join('\n'),
      );
      // Once blocked, the attacker's packets die at the bridge and the responder never sees them.
      if (!early)
        assert.ok(
          decoys.contacts.some((c) => c.src === HOSTS.attacker && c.decoy === now),
          'the responder saw the touch too',
        );
    } finally {
      await stopRunner?.();
      await decoys?.stop();
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
