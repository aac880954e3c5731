// DNP3 qualifier 0x06 ("all points of this group") on a point group is every index of it, the widest range there
// is (review 14, D1): a group that lets SCADA freeze-and-clear counters 0-5 must not pass "freeze and clear every
// counter". Class objects (g60) and the other objects without a point index (device attributes, time, files, IIN,
// authentication...) name no points and keep passing. The gateway, the simulation and a policy learned
// from traffic judge the same targets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ALL_POINTS, dnp3Tcp } from '../../src/dissect/protocols/dnp3.js';
import type { Message } from '../../src/dissect/message.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector, type Action } from '../../src/enforce/gateway/inspector.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom } from '../../src/discover/baseline.js';
import { proposePolicy } from '../../src/policy/propose.js';
import { policyToYaml } from '../../src/policy/write.js';
import type { Policy } from '../../src/policy/model.js';
import { Simulator } from '../../src/policy/simulate.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { Baseline } from '../../src/discover/baseline.js';
import { dnp3Request } from '../helpers/ics-frames.js';
import { pduContext } from '../helpers/pdu-context.js';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';

const READ = 1,
  IMMED_FREEZE = 7,
  FREEZE_CLEAR = 9,
  ENABLE_UNSOLICITED = 20,
  ASSIGN_CLASS = 22;
const ALL = 0x06;

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.10, 10.0.0.40], mode: monitor }
  - { name: ctl, members: [10.0.0.21], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: scada, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: dnp3, access: read-write,
      functions: [READ, FREEZE_CLEAR, IMMED_FREEZE, ENABLE_UNSOLICITED, ASSIGN_CLASS],
      addresses: { g20v0: ["0-5"], g30v0: ["0-9"] } }
  - { name: every-counter, conduit: c, clients: [10.0.0.40], servers: [10.0.0.21], protocol: dnp3,
      access: read-write, functions: [FREEZE_CLEAR], addresses: { g20v0: ["0-4294967295"] } }
`;
const loaded = parsePolicy(POLICY, 'p.yaml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const cp = new CompiledPolicy(loaded.policy);

function judge(client: string, bytes: Uint8Array): Action[] {
  const ins = new StreamInspector(
    dnp3Tcp,
    cp.rules(client, '10.0.0.21', 'tcp', 20000),
    pduContext({ srcIp: client, dstIp: '10.0.0.21', dstPort: 20000 }),
    { deny: 'drop', budgetMicros: 1e6 },
  );
  return ins.push(bytes);
}
const passes = (client: string, fc: number, objects: number[]): boolean => {
  const as = judge(client, dnp3Request(fc, objects));
  return as.length > 0 && as.every((a) => a.kind === 'forward');
};

function dissect(fc: number, objects: number[]): Message {
  const bytes = dnp3Request(fc, objects);
  const out: Message[] = [];
  dnp3Tcp.dissect(bytes, 0, bytes.length, pduContext({ dstPort: 20000 }), true, out);
  assert.equal(out.length, 1);
  return out[0]!;
}

test('DNP3 "all points" (qualifier 0x06) on a point group names every index; on a class object none', () => {
  assert.deepEqual(dissect(FREEZE_CLEAR, [20, 0, ALL]).targets, [
    { space: 'g20v0', start: 0, count: ALL_POINTS },
  ]);
  assert.deepEqual(dissect(READ, [60, 1, ALL]).targets, [{ space: 'g60v1', start: 0, count: 0 }]);
  for (const g of [0, 50, 51, 52, 60, 70, 80, 90, 91, 120])
    assert.equal(
      dissect(READ, [g, g === 0 ? 254 : 1, ALL]).targets?.[0]?.count,
      0,
      `g${g}: no points`,
    );
  // No objects follow qualifier 0x06, whatever the object's size: the headers after it are walked and judged.
  assert.deepEqual(dissect(ASSIGN_CLASS, [60, 2, ALL, 30, 0, ALL, 60, 3, ALL, 1, 0, ALL]).targets, [
    { space: 'g60v2', start: 0, count: 0 },
    { space: 'g30v0', start: 0, count: ALL_POINTS },
    { space: 'g60v3', start: 0, count: 0 },
    { space: 'g1v0', start: 0, count: ALL_POINTS },
  ]);
  // An index prefix on "all points" means nothing an outstation agrees on: not walked, not trusted.
  assert.equal(dissect(FREEZE_CLEAR, [20, 0, 0x16]).targets?.at(-1)?.space, 'unwalked');
});

test('gateway: freeze-and-clear or read of all points is refused unless the address list covers the group', () => {
  assert.ok(passes('10.0.0.10', FREEZE_CLEAR, [20, 0, 0x00, 0, 5]), 'counters 0..5');
  assert.ok(!passes('10.0.0.10', FREEZE_CLEAR, [20, 0, ALL]), 'FREEZE_CLEAR every counter');
  assert.ok(!passes('10.0.0.10', IMMED_FREEZE, [20, 0, ALL]), 'IMMED_FREEZE every counter');
  assert.ok(!passes('10.0.0.10', READ, [30, 0, ALL]), 'READ every analog input');
  assert.ok(!passes('10.0.0.10', ASSIGN_CLASS, [60, 2, ALL, 30, 0, ALL]), 'ASSIGN_CLASS of all');
  assert.ok(!passes('10.0.0.10', READ, [1, 0, ALL]), 'a group the list does not name');
  // Class objects name no points: integrity polls and unsolicited control still pass.
  assert.ok(
    passes('10.0.0.10', READ, [60, 2, ALL, 60, 3, ALL, 60, 4, ALL, 60, 1, ALL]),
    'class poll',
  );
  assert.ok(passes('10.0.0.10', ENABLE_UNSOLICITED, [60, 2, ALL, 60, 3, ALL, 60, 4, ALL]));
  // Nor do the other objects without a point index (review 14b, F2): all device attributes, read by masters at
  // every connect, passed before and must keep passing under a list of point indexes.
  assert.ok(passes('10.0.0.10', READ, [0, 254, ALL]), 'READ g0v254: every device attribute');
  assert.ok(passes('10.0.0.10', READ, [80, 1, ALL]), 'READ g80v1: the internal indications');
  // A list that names the whole index space admits it.
  assert.ok(passes('10.0.0.40', FREEZE_CLEAR, [20, 0, ALL]), 'g20v0 0-4294967295 listed');
});

/** A DNP3 session master 10.0.0.10 → outstation 10.0.0.21 carrying these requests, as a capture file. */
function capture(dir: string, name: string, requests: Uint8Array[]): string {
  const flow = new TcpFlow(
    { mac: '02:00:00:00:00:10', ip: '10.0.0.10', port: 40000 },
    { mac: '02:00:00:00:00:21', ip: '10.0.0.21', port: 20000 },
  );
  const file = path.join(dir, name);
  writeFileSync(
    file,
    pcap([...flow.handshake(), ...requests.map((r) => flow.send(true, Buffer.from(r)))]),
  );
  return file;
}

/** The baseline learned from a capture and the policy proposed from it (YAML read back, zones simulating). */
function learn(file: string): { baseline: Baseline; policy: Policy } {
  const inv = new Inventory();
  const v = new ValueRanges();
  const p = new DissectPipeline({
    onPacket: (x) => inv.onPacket(x),
    onMessage: (m) => {
      inv.onMessage(m);
      v.onMessage(m);
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  const snap = inv.snapshot();
  const baseline = baselineFrom(snap, v.ranges(), { version: 1, sources: [file] });
  const r = parsePolicy(
    policyToYaml(proposePolicy(baseline, snap.assets, { edges: snap.edges })),
    'l.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  for (const z of r.policy.zones) z.mode = 'simulate';
  return { baseline, policy: r.policy };
}

function refusedIn(policy: Policy, file: string): string[] {
  const sim = new Simulator(new CompiledPolicy(policy), null);
  const p = new DissectPipeline({
    onPacket: (x) => sim.onPacket(x),
    onMessage: (m) => sim.onMessage(m),
  });
  readCaptureSync(file, (f) => p.push(f));
  return sim.result().blocked.map((b) => `${b.reason} ${b.funcName ?? ''}`);
}

/** The passive side on the same capture: the points of each write_new_range detection. */
function newWrites(baseline: Baseline, file: string): string[] {
  const eng = new DetectionEngine(baseline);
  const p = new DissectPipeline({
    onPacket: (x) => eng.onPacket(x),
    onMessage: (m) => eng.onMessage(m),
  });
  readCaptureSync(file, (f) => p.push(f));
  return eng
    .finish()
    .filter((d) => d.type === 'write_new_range')
    .map((d) => String(d.evidence.fields.space) + ' ' + String(d.evidence.fields.count));
}

test('a policy learned from "freeze all counters" admits it; one learned from counters 0..5 refuses it in simulation and detection', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-dnp3-all-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const poll = dnp3Request(READ, [60, 2, ALL, 60, 3, ALL, 60, 4, ALL, 60, 1, ALL], 1);
  const freezeAll = capture(dir, 'all.pcap', [poll, dnp3Request(FREEZE_CLEAR, [20, 0, ALL], 2)]);
  const freezeSome = capture(dir, 'some.pcap', [
    poll,
    dnp3Request(FREEZE_CLEAR, [20, 0, 0x00, 0, 5], 2),
  ]);
  const fromAll = learn(freezeAll);
  assert.deepEqual(
    fromAll.policy.groups.flatMap((g) => Object.entries(g.addresses ?? {})),
    [['g20v0', [[0, ALL_POINTS - 1]]]],
  );
  assert.deepEqual(refusedIn(fromAll.policy, freezeAll), [], 'the learned traffic passes');
  assert.deepEqual(newWrites(fromAll.baseline, freezeAll), [], 'and is normal to the detectors');
  const fromSome = learn(freezeSome);
  assert.deepEqual(refusedIn(fromSome.policy, freezeSome), []);
  const refused = refusedIn(fromSome.policy, freezeAll);
  assert.equal(refused.length, 1, refused.join('; '));
  assert.match(refused[0]!, /^address_not_allowed/);
  // What the simulation refuses, the passive side reports: a write of every counter, not of counter 0.
  assert.deepEqual(newWrites(fromSome.baseline, freezeAll), [`g20v0 ${ALL_POINTS}`]);
});
