import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom, type Baseline } from '../../src/discover/baseline.js';
import type { InventorySnapshot } from '../../src/discover/model.js';
import { proposePolicy } from '../../src/policy/propose.js';
import { policyToYaml } from '../../src/policy/write.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { Simulator, type SimulationResult } from '../../src/policy/simulate.js';
import type { Policy } from '../../src/policy/model.js';
import { plainSummary, toHtml } from '../../src/policy/report.js';
import { driftOf } from '../../src/assess/drift.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

function timeSpan(file: string): [number, number] {
  let first = Infinity,
    last = -Infinity;
  readCaptureSync(file, (f) => {
    first = Math.min(first, f.ts);
    last = Math.max(last, f.ts);
  });
  return [first, last];
}

/** Learn on traffic before `split`, returning the baseline and inventory. */
function learn(file: string, split = Infinity): { baseline: Baseline; snap: InventorySnapshot } {
  const inv = new Inventory();
  const v = new ValueRanges();
  const p = new DissectPipeline({
    onPacket: (x) => {
      if (x.ts < split) inv.onPacket(x);
    },
    onMessage: (m) => {
      if (m.ts < split) {
        inv.onMessage(m);
        v.onMessage(m);
      }
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  const snap = inv.snapshot();
  return { baseline: baselineFrom(snap, v.ranges(), { version: 1, sources: [file] }), snap };
}

function simulate(
  policy: Policy,
  file: string,
  baseline: Baseline | null,
  from = -Infinity,
): SimulationResult {
  const sim = new Simulator(new CompiledPolicy(policy), baseline);
  const p = new DissectPipeline({
    onPacket: (x) => {
      if (x.ts >= from) sim.onPacket(x);
    },
    onMessage: (m) => {
      if (m.ts >= from) sim.onMessage(m);
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  return sim.result();
}

/** Propose from the first half, written as YAML and read back: what a person would review and submit. */
function proposeFromFirstHalf(file: string): { policy: Policy; baseline: Baseline; split: number } {
  const [first, last] = timeSpan(file);
  const split = first + (last - first) / 2;
  const { baseline, snap } = learn(file, split);
  const yaml = policyToYaml(proposePolicy(baseline, snap.assets, { edges: snap.edges }));
  const r = parsePolicy(yaml, 'proposed.yaml');
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return { policy: r.policy, baseline, split };
}

test('a policy proposed from the first half of normal captures blocks nothing on the rest', () => {
  const files = [
    'ics-pcap/s7_1200_hmi_timer_sync.pcapng',
    'icsnpp/bacnet_example.pcap',
    'icsnpp/bacnet_services.pcap',
    'icsnpp/enip_cip_example.pcap',
  ]
    .map((f) => sharedCapture(f))
    .filter((f): f is string => f !== null);
  if (files.length === 0) return;
  for (const f of files) {
    const { policy, baseline, split } = proposeFromFirstHalf(f);
    assert.ok(policy.groups.length > 0, `${f}: groups proposed`);
    const r = simulate(policy, f, baseline, split);
    assert.ok(r.packets > 0, `${f}: replayed`);
    assert.deepEqual(
      r.blocked.map((b) => `${b.client}>${b.server} ${b.reason} ${b.funcName ?? ''}`),
      [],
      `${f}: ${plainSummary(r)}`,
    );
    assert.match(plainSummary(r), /^Nothing would break/);
  }
});

test('lab plant: the proposed policy blocks only the intruder and the unplanned PLC stop, never a baseline flow', () => {
  const { policy, baseline, split } = proposeFromFirstHalf(plant);
  const r = simulate(policy, plant, baseline, split);
  assert.ok(r.blocked.length > 0, 'the intruder is refused');
  for (const b of r.blocked) {
    const stop =
      b.client === '10.77.0.30' && b.funcName === 'plc_stop' && b.reason === 'function_not_allowed';
    assert.ok(
      b.client === '10.77.0.66' || stop,
      `${b.clientName} → ${b.serverName} ${b.funcName} ${b.reason}`,
    );
  }
  assert.equal(r.blocked.filter((b) => b.baseline).length, 0);
  assert.equal(
    Object.values(r.zones).reduce((n, z) => n + z.baselineBlocked, 0),
    0,
  );
  // The intruder's Modbus connection to PLC 1 is a refused flow in the control zone.
  assert.ok(
    r.blocked.some(
      (b) =>
        b.server === '10.77.0.21' &&
        b.port === 502 &&
        b.reason === 'no_rule' &&
        b.zone === 'control',
    ),
  );
});

test('forbidding a function the HMI uses is reported with exactly the flows that use it (tshark as the oracle)', () => {
  const { baseline, snap } = learn(plant);
  const policy = proposePolicy(baseline, snap.assets, { edges: snap.edges });
  const g = policy.groups.find((x) => x.clients[0] === 'hmi-10' && x.servers[0] === 'plc-21')!;
  assert.ok(g.functions?.includes(6), 'the HMI writes single registers');
  g.functions = g.functions!.filter((f) => f !== 6);
  const r = simulate(policy, plant, baseline);
  const frames = execFileSync(
    'tshark',
    [
      '-r',
      plant,
      '-Y',
      'modbus.func_code == 6 && ip.src == 10.77.0.10 && tcp.dstport == 502',
      '-T',
      'fields',
      '-e',
      'frame.number',
    ],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);
  assert.ok(frames.length > 0);
  assert.equal(r.blocked.length, 1, plainSummary(r));
  const b = r.blocked[0]!;
  assert.deepEqual(
    [b.clientName, b.serverName, b.protocol, b.funcName, b.reason, b.zone],
    ['hmi-10', 'plc-21', 'modbus', 'write_single_register', 'function_not_allowed', 'control'],
  );
  assert.equal(b.requests, frames.length);
  assert.deepEqual(b.frames, frames.slice(0, b.frames.length));
  assert.equal(b.baseline, true, 'a learned flow: this change would break normal operation');
  assert.match(
    plainSummary(r),
    /1 flow would break.*\n.*hmi-10 → plc-21 modbus write_single_register/,
  );
  const html = toHtml(r, { policy: 'edited.yaml', captures: [plant], generated: 'now' });
  assert.match(html, /write_single_register/);
  assert.doesNotMatch(html, /<script/);
});

test('time windows, read-only access and address ranges refuse what they should', () => {
  const text = `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.10, 10.77.0.30, 10.77.0.40, 10.77.0.66], mode: monitor }
  - { name: control, members: [10.77.0.21/32, 10.77.0.22/32], mode: simulate }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - name: hmi-reads
    conduit: sup-ctl
    clients: [10.77.0.10]
    servers: [10.77.0.21]
    protocol: modbus
    functions: [read_coils, read_holding_registers, write_single_register]
    addresses: { holding_register: [0-9], coil: [0-15] }
    access: read-write
  - name: ews
    conduit: sup-ctl
    clients: [10.77.0.30]
    servers: [10.77.0.21]
    protocol: modbus
    access: read-only
  - name: historian
    conduit: sup-ctl
    clients: [10.77.0.40]
    servers: [10.77.0.21]
    protocol: modbus
    access: read-only
    windows: [never-now]
windows:
  - { name: never-now, days: [mon], from: "00:00", to: "00:01" }
`;
  const r0 = parsePolicy(text, 't.yaml');
  assert.ok(r0.ok, JSON.stringify(!r0.ok && r0.errors));
  const r = simulate(r0.policy, plant, null);
  const reasons = new Set(r.blocked.map((b) => `${b.client}:${b.reason}`));
  assert.ok(reasons.has('10.77.0.30:write_not_allowed'), [...reasons].join(' '));
  assert.ok(
    reasons.has('10.77.0.10:address_not_allowed'),
    'the HMI writes register 100, outside 0-9',
  );
  assert.ok(reasons.has('10.77.0.40:outside_window'), 'the historian polls outside its window');
  assert.ok(reasons.has('10.77.0.66:no_rule'), 'the intruder has no group');
  const d = driftOf(r0.policy, r);
  assert.ok(d.violations.length > 0);
  assert.deepEqual(d.unusedGroups, ['historian'], 'the historian group never let anything through');
});

test('coverage leaves out learned flows the replay could not be expected to carry: silent longer than it spans (review 12b, B9)', () => {
  const { policy, baseline } = proposeFromFirstHalf(plant);
  const [first, last] = timeSpan(plant);
  // The last 10 s of the capture: a replay shorter than the learning window.
  const from = last - 10;
  const plain = simulate(policy, plant, baseline, from);
  const zone = Object.entries(plain.zones).find(([, z]) => (z.baselineFlows ?? 0) > 0)![0];
  const some = Object.values(baseline.edges).find(
    (e) =>
      new CompiledPolicy(policy).rules(e.client, e.server, e.transport, e.port).zone?.name === zone,
  )!;
  const b = structuredClone(baseline);
  // A monthly backup: one burst early in learning, silent since (longer than the replay spans).
  b.edges['monthly'] = {
    ...some,
    id: 'monthly',
    firstSeen: b.from + 1,
    lastSeen: b.from + 2,
    maxRequestGap: 0.5,
  };
  // Another, on a port no group allows: left out of the counts too, but the rules alone say it would be cut.
  b.edges['monthly-cut'] = { ...b.edges['monthly'], id: 'monthly-cut', port: 9999 };
  // A steady poller of the whole learning window that the replay does not carry: it still counts, as unseen.
  b.edges['steady'] = {
    ...some,
    id: 'steady',
    client: '10.77.0.98',
    firstSeen: b.from,
    lastSeen: b.to,
    maxRequestGap: 1,
  };
  const r = simulate(policy, plant, b, from);
  const z = r.zones[zone]!;
  const p = plain.zones[zone]!;
  assert.ok(10 < b.to - b.from - 2, 'the replay spans less than the backup kept silent');
  assert.equal(z.baselineOccasional, p.baselineOccasional! + 2, 'the backups are left out');
  assert.deepEqual(
    (z.occasionalCut ?? []).map((f) => `${f.client}:${f.port}`),
    [`${some.client}:9999`],
    'only the one no group allows is cut (judged by the rules)',
  );
  assert.equal(z.baselineFlows, p.baselineFlows! + 1, 'the steady poller counts');
  assert.equal(z.baselineSeen, p.baselineSeen);
  assert.ok(z.unseen!.some((u) => u.client === '10.77.0.98'));
  assert.ok(!z.unseen!.some((u) => u.port === 9999 || u.client === some.client));
  // Replayed over the whole capture, the burst falls inside the replay's span... and was still not carried:
  // a replay as long as its silence should have seen it, so it counts again.
  const whole = simulate(policy, plant, { ...b, from: first, to: last }, -Infinity);
  assert.equal(whole.zones[zone]!.baselineOccasional ?? 0, 0);
});
