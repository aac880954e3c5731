// Decoys and real devices on the same pool addresses (rev12 R6): a device that holds a pool address before the
// decoys start keeps it (the RFC 5227 probe hears it, the decoy takes another pool address), and a device that
// claims a running decoy's address gets it (the decoy withdraws at its gratuitous ARP and reports decoy_conflict).
// Review 12b B5: an attacker's forged claim is a stored detection, the address comes back once a re-probe finds
// it silent, and the placement's probes name the whole pool, not where the decoys went.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, Plant } from '../lab/plant.js';
import { openStore } from '../../src/store/db.js';
import type { Detection } from '../../src/detect/detection.js';
import { RELEASE_QUIET_S } from '../../src/deceive/conflict.js';
import { startPlcs } from '../lab/scenario.js';
import { cli, labPolicyStore, sleep } from '../enforce/lab-kit.js';
import {
  DECOY_POLICY,
  learnPlant,
  MODBUS_POOL,
  runDecoys,
  S7_POOL,
  sensor,
  type RunningDecoys,
} from './decoy-kit.js';

let lab: Plant | null = null;
let dir = '';
let auth: string[] = [];
let sensorNs = '';
let devices = 0;

/** A device plugged into the plant's switch after the baseline: its own namespace holding `addr` (null: none yet). */
function device(p: Plant, addr: string | null): { ns: string; mac: string } {
  const ns = `${p.prefix}-dev${devices}`;
  const outer = `vd${p.prefix.slice(-6)}${devices++}`;
  const run = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] });
  run('netns', 'add', ns);
  run('-n', p.ns('fw'), 'link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  run('-n', p.ns('fw'), 'link', 'set', outer, 'master', 'br0');
  run('-n', p.ns('fw'), 'link', 'set', outer, 'up');
  if (addr !== null) run('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
  run('-n', ns, 'link', 'set', 'eth0', 'up');
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(
    run('-n', ns, 'link', 'show', 'eth0').toString(),
  )![1]!;
  return { ns, mac };
}

/** The MACs that answer ARP for `addr`, asked from the attacker's host (arping exits 1 when none answers). */
function arpOwners(p: Plant, addr: string): string[] {
  let out = '';
  try {
    out = p.exec('attacker', 'arping', ['-c', '3', '-w', '4', '-I', 'eth0', addr]);
  } catch (e) {
    out = String((e as { stdout?: Buffer }).stdout ?? '');
  }
  return [
    ...new Set(
      [...out.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase()),
    ),
  ].sort();
}

before(async () => {
  if (!canBuildLab()) return;
  dir = mkdtempSync(path.join(tmpdir(), 'weir-decoyconflict-'));
  // Ten years: no scheduled move during the test; every move here comes from a conflict.
  auth = await labPolicyStore(dir, DECOY_POLICY('520w'));
  lab = Plant.up();
  await startPlcs(lab);
  await learnPlant(lab, dir, auth);
  sensorNs = sensor(lab);
});

after(async () => {
  await lab?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(
  'a device commissioned after the baseline on the address the schedule gives a decoy keeps it: the decoy takes another pool address',
  { timeout: 300_000 },
  async (t) => {
    if (lab === null) {
      if (process.env.CI === 'true') throw new Error('the decoy lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const stateDir = path.join(dir, 'state-a');
    const db = auth[auth.indexOf('--db') + 1]!;
    const planned = JSON.parse(
      execFileSync(process.execPath, [
        cli,
        'decoy',
        'plan',
        '--db',
        db,
        '--state-dir',
        stateDir,
        '--json',
      ]).toString(),
    ) as Array<{ slot: { set: string; ip: string } }>;
    const target = planned.find((p) => p.slot.set === 'modbus-decoys')!.slot.ip;
    // Silent: it never spoke while the sensor listened, so neither the baseline nor the inventory knows it.
    const plc = device(lab, target);
    let decoys: RunningDecoys | null = null;
    try {
      decoys = await runDecoys(lab, sensorNs, auth, stateDir);
      const placed = decoys.placements[0]!.get('modbus-decoys');
      t.diagnostic(decoys.stderr());
      assert.ok(placed !== undefined && MODBUS_POOL.includes(placed), decoys.stderr());
      assert.notEqual(placed, target, `the decoy took ${target}, held by ${plc.mac}`);
      assert.deepEqual(
        arpOwners(lab, target),
        [plc.mac],
        'only the device answers for its address',
      );
      assert.match(decoys.stderr(), new RegExp(`${target.replace(/\./g, '\\.')} .*${plc.mac}`));
    } finally {
      await decoys?.stop();
      execFileSync('ip', ['netns', 'del', plc.ns]);
    }
  },
);

test(
  "a device that claims a running decoy's address (gratuitous ARP) gets it: the decoy withdraws, reports decoy_conflict, and the set moves to a free pool address",
  { timeout: 300_000 },
  async (t) => {
    if (lab === null) {
      if (process.env.CI === 'true') throw new Error('the decoy lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const stateDir = path.join(dir, 'state-b');
    let decoys: RunningDecoys | null = null;
    try {
      decoys = await runDecoys(lab, sensorNs, auth, stateDir);
      const s7 = decoys.placements[0]!.get('s7-decoys')!;
      const mb = decoys.placements[0]!.get('modbus-decoys')!;
      assert.ok(S7_POOL.includes(s7), decoys.stderr());
      assert.equal(arpOwners(lab, s7).length, 1, 'the decoy answers for its address');
      // A replacement unit comes up on the address and announces it, as a PLC does at power-up.
      const plc = device(lab, s7);
      execFileSync('ip', ['netns', 'exec', plc.ns, 'arping', '-U', '-c', '2', '-I', 'eth0', s7], {
        stdio: 'ignore',
      });
      const conflicts = () =>
        (decoys!.contacts as unknown as Array<Record<string, unknown>>).filter(
          (c) => c.type === 'decoy_conflict',
        );
      for (let i = 0; i < 100 && conflicts().length === 0; i++) await sleep(100);
      t.diagnostic(decoys.stderr());
      assert.equal(conflicts().length, 1, decoys.stderr());
      assert.deepEqual(
        { ...conflicts()[0], ts: undefined },
        {
          type: 'decoy_conflict',
          set: 's7-decoys',
          decoy: s7,
          decoyMac: conflicts()[0]!.decoyMac,
          claimedBy: plc.mac,
          arp: 'gratuitous',
          // Given back no sooner than the quiet time after the claimer was last heard (review 13, M5).
          reprobeAfter: RELEASE_QUIET_S,
          ts: undefined,
        },
      );
      // The decoy is gone from the address: only the device answers for it now.
      let owners: string[] = [];
      for (let i = 0; i < 20 && (owners = arpOwners(lab, s7)).join() !== plc.mac; i++)
        await sleep(200);
      assert.deepEqual(owners, [plc.mac]);
      // The set keeps its decoy, on another pool address; the Modbus decoy was not disturbed.
      for (let i = 0; i < 150 && decoys.placements.length < 2; i++) await sleep(100);
      const moved = decoys.placements.at(-1)!;
      assert.ok(
        S7_POOL.includes(moved.get('s7-decoys')!) && moved.get('s7-decoys') !== s7,
        decoys.stderr(),
      );
      assert.equal(moved.get('modbus-decoys'), mb);
      const audit = execFileSync(process.execPath, [
        cli,
        'policy',
        'audit',
        '--db',
        auth[auth.indexOf('--db') + 1]!,
      ]).toString();
      assert.match(audit, /decoys\.withdrawn/);
    } finally {
      await decoys?.stop();
    }
  },
);

/** A passive listener on the attacker's host: the addresses of the RFC 5227 probes (who-has X tell 0.0.0.0). */
async function listenForProbes(
  p: Plant,
): Promise<{ probed: Set<string>; stop: () => Promise<void> }> {
  const probed = new Set<string>();
  const c = spawn(
    'ip',
    ['netns', 'exec', p.ns('attacker'), 'tcpdump', '-l', '-n', '-i', 'eth0', 'arp'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  c.stdout!.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/who-has ([0-9.]+)(?: \([0-9a-f:]+\))? tell 0\.0\.0\.0/g))
      probed.add(m[1]!);
  });
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 100 && !/listening on/.test(err); i++) await sleep(100);
  return {
    probed,
    stop: () =>
      new Promise((resolve) => {
        if (c.exitCode !== null) return resolve();
        c.once('close', () => resolve());
        c.kill('SIGTERM');
      }),
  };
}

test(
  "an attacker's forged ARP for a running decoy: a stored decoy_conflict detection (ATT&CK), and once the attacker is silent the re-probe gives the address back; a listener hears the whole pool probed, not the decoys' addresses",
  { timeout: 300_000 },
  async (t) => {
    if (lab === null) {
      if (process.env.CI === 'true') throw new Error('the decoy lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const stateDir = path.join(dir, 'state-c');
    const db = auth[auth.indexOf('--db') + 1]!;
    const listener = await listenForProbes(lab);
    let decoys: RunningDecoys | null = null;
    try {
      decoys = await runDecoys(lab, sensorNs, auth, stateDir, [
        '--reprobe-after',
        '8',
        '--release-quiet',
        '8',
      ]);
      await sleep(500);
      await listener.stop();
      const first = decoys.placements[0]!;
      const s7 = first.get('s7-decoys')!;
      t.diagnostic(
        `probed: ${[...listener.probed].sort().join(' ')}; placed: ${[...first.values()].join(' ')}`,
      );
      // Every pool address was probed (the sets' pools are 3 with 1 active: 2 covers each), so the probes
      // do not single out the drawn addresses.
      for (const a of [...MODBUS_POOL, ...S7_POOL])
        assert.ok(listener.probed.has(a), `${a} was not probed: ${[...listener.probed].join(' ')}`);

      // The attacker claims the S7 decoy's address for a moment (an unsolicited ARP reply), then goes silent.
      const attackerMac = /link\/ether ([0-9a-f:]{17})/.exec(
        lab.exec('attacker', 'ip', ['link', 'show', 'eth0']),
      )![1]!;
      lab.exec('attacker', 'ip', ['addr', 'add', `${s7}/32`, 'dev', 'eth0']);
      try {
        lab.exec('attacker', 'arping', ['-A', '-c', '1', '-I', 'eth0', s7]);
      } finally {
        lab.exec('attacker', 'ip', ['addr', 'del', `${s7}/32`, 'dev', 'eth0']);
      }
      const conflicts = () =>
        (decoys!.contacts as unknown as Array<Record<string, unknown>>).filter(
          (c) => c.type === 'decoy_conflict' && c.claimedBy === attackerMac,
        );
      for (let i = 0; i < 100 && conflicts().length === 0; i++) await sleep(100);
      assert.equal(conflicts().length, 1, decoys.stderr());
      // The withdrawal is a detection in the store (dashboard, incidents, SIEM), not only a line on stdout.
      let stored: Detection[] = [];
      for (let i = 0; i < 50 && stored.length === 0; i++) {
        const s = openStore(db);
        try {
          stored = (
            s.prepare("SELECT doc FROM detections WHERE type = 'decoy_conflict'").all() as Array<{
              doc: string;
            }>
          )
            .map((r) => JSON.parse(r.doc) as Detection)
            .filter((d) => d.src === attackerMac);
        } finally {
          s.close();
        }
        if (stored.length === 0) await sleep(100);
      }
      assert.equal(stored.length, 1, decoys.stderr());
      const d = stored[0]!;
      assert.equal(d.dst, s7);
      // The lab's attacker host is in the inventory (it spoke while the plant was learned): medium; unknown, high.
      assert.equal(d.severity, d.evidence.fields.claimer_known === true ? 'medium' : 'high');
      assert.equal(d.zone, 'control');
      assert.deepEqual(d.techniques, ['T0849', 'T0830']);
      assert.equal(d.evidence.fields.claimed_by, attackerMac);
      // The set moved on; the attacker stays silent, so the re-probe (8 s on, nothing heard from it for 8 s)
      // finds the address free and the period's draw takes it again.
      let back = false;
      for (let i = 0; i < 400 && !back; i++) {
        back = decoys.placements.length > 2 && decoys.placements.at(-1)!.get('s7-decoys') === s7;
        if (!back) await sleep(100);
      }
      t.diagnostic(decoys.stderr());
      assert.ok(back, `the decoy did not come back to ${s7}: ${decoys.stderr()}`);
      assert.match(decoys.stderr(), new RegExp(`free again.*${s7.replace(/\./g, '\\.')}`));
    } finally {
      await listener.stop();
      await decoys?.stop();
    }
  },
);

/** An RFC 5227 probe for `addr` from a device's namespace (ACD at boot); the MAC that answered, or null. */
function acdProbe(ns: string, addr: string): string | null {
  try {
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'arping',
      '-D',
      '-c',
      '3',
      '-w',
      '4',
      '-I',
      'eth0',
      addr,
    ]);
    return null;
  } catch (e) {
    const out = String((e as { stdout?: Buffer }).stdout ?? '');
    return /reply from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(out)?.[1]?.toLowerCase() ?? `error: ${out}`;
  }
}

test(
  "review 13 M5: a device that took a decoy's address and then went silent (powered off for maintenance) keeps it through unanswered re-probes; back, its address conflict detection hears no decoy",
  { timeout: 300_000 },
  async (t) => {
    if (lab === null) {
      if (process.env.CI === 'true') throw new Error('the decoy lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const stateDir = path.join(dir, 'state-d');
    let decoys: RunningDecoys | null = null;
    let plc: { ns: string; mac: string } | null = null;
    try {
      // A short re-probe wait: before the fix the first unanswered re-probe gave the address back.
      decoys = await runDecoys(lab, sensorNs, auth, stateDir, ['--reprobe-after', '3']);
      const s7 = decoys.placements[0]!.get('s7-decoys')!;
      plc = device(lab, s7);
      execFileSync('ip', ['netns', 'exec', plc.ns, 'arping', '-U', '-c', '2', '-I', 'eth0', s7], {
        stdio: 'ignore',
      });
      const conflicts = () =>
        (decoys!.contacts as unknown as Array<Record<string, unknown>>).filter(
          (c) => c.type === 'decoy_conflict' && c.claimedBy === plc!.mac,
        );
      for (let i = 0; i < 100 && conflicts().length === 0; i++) await sleep(100);
      assert.equal(conflicts().length, 1, decoys.stderr());
      // Powered off for maintenance: nothing from it, no answer to any probe.
      execFileSync('ip', ['-n', plc.ns, 'link', 'set', 'eth0', 'down']);
      // Many re-probe waits (3 s each, a probe takes ~4 s): the address stays the device's.
      await sleep(20_000);
      t.diagnostic(decoys.stderr());
      assert.doesNotMatch(decoys.stderr(), /free again/);
      assert.ok(
        decoys.placements.slice(1).every((p) => p.get('s7-decoys') !== s7),
        `a decoy went back onto ${s7}: ${decoys.stderr()}`,
      );
      // Back from maintenance: an EtherNet/IP device probes its address first (ACD) and must hear nobody.
      execFileSync('ip', ['-n', plc.ns, 'link', 'set', 'eth0', 'up']);
      assert.equal(acdProbe(plc.ns, s7), null, "a decoy answered the returning device's ACD probe");
    } finally {
      await decoys?.stop();
      if (plc !== null) execFileSync('ip', ['netns', 'del', plc.ns]);
    }
  },
);

test(
  "review 13 M5: a device booting onto a running decoy's address probes it first (RFC 5227 ACD): the decoy does not answer the probe, withdraws, and the device takes the address",
  { timeout: 300_000 },
  async (t) => {
    if (lab === null) {
      if (process.env.CI === 'true') throw new Error('the decoy lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const stateDir = path.join(dir, 'state-e');
    let decoys: RunningDecoys | null = null;
    let dev: { ns: string; mac: string } | null = null;
    try {
      decoys = await runDecoys(lab, sensorNs, auth, stateDir);
      const mb = decoys.placements[0]!.get('modbus-decoys')!;
      assert.equal(arpOwners(lab, mb).length, 1, 'the decoy answers for its address');
      // The device is up but has not taken its address yet: ACD comes first.
      dev = device(lab, null);
      const answered = acdProbe(dev.ns, mb);
      t.diagnostic(decoys.stderr());
      assert.equal(
        answered,
        null,
        `the decoy answered the device's ACD probe: the device would stay off the network`,
      );
      const conflicts = () =>
        (decoys!.contacts as unknown as Array<Record<string, unknown>>).filter(
          (c) => c.type === 'decoy_conflict' && c.claimedBy === dev!.mac,
        );
      for (let i = 0; i < 100 && conflicts().length === 0; i++) await sleep(100);
      assert.equal(conflicts()[0]?.arp, 'probe', decoys.stderr());
      // No conflict: the device takes its address, and only it answers there.
      execFileSync('ip', ['-n', dev.ns, 'addr', 'add', `${mb}/24`, 'dev', 'eth0']);
      assert.deepEqual(arpOwners(lab, mb), [dev.mac]);
    } finally {
      await decoys?.stop();
      if (dev !== null) execFileSync('ip', ['netns', 'del', dev.ns]);
    }
  },
);
