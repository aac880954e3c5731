// Incidents: detections of one actor (or one target under attack) fold into one case whose tactics follow
// the attack's progression; normal traffic opens none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { learnThenDetect } from '../../bench/detect.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';
import { IncidentCorrelator } from '../../src/respond/incidents.js';
import { stageOf, type IncidentLookups } from '../../src/respond/incident-facts.js';
import { incidentSummary } from '../../src/detect/incident.js';
import type { IncidentLike } from '../../src/export/incident-event.js';
import { ATTACK_TECHNIQUES } from '../../src/detect/attack-ics.js';
import type { Detection } from '../../src/detect/detection.js';
import { techniquesFor } from '../../src/detect/attack-map.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom } from '../../src/discover/baseline.js';
import { DetectionEngine } from '../../src/detect/engine.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');
const PLANT_ROLES: Record<string, string> = { '10.77.0.21': 'plc', '10.77.0.22': 'plc' };
const lookups: IncidentLookups = {
  assetOf: (a) =>
    PLANT_ROLES[a] ? { name: `plc-${a.split('.')[3]}`, role: PLANT_ROLES[a]! } : null,
  zoneOf: (a) => (a === '10.77.0.21' ? 'control' : null),
};
const correlate = (ds: Detection[]) => {
  const c = new IncidentCorrelator({ ...lookups, now: () => '2026-01-01T00:00:00.000Z' });
  c.addAll(ds);
  return c.all();
};

test('plant: the intruder’s sweep, new edge and writes are one incident with ordered tactics; the engineering stop is its own', () => {
  const { detections } = learnThenDetect(plant, 0.5);
  assert.equal(detections.length, 6);
  const incidents = correlate(detections);
  assert.equal(incidents.length, 2, incidents.map((i) => i.title).join('\n'));
  const intruder = incidents.find((i) => i.sources.includes('10.77.0.66'))!;
  assert.deepEqual(
    intruder.timeline.map((s) => s.type),
    ['new_asset', 'port_scan', 'new_edge', 'write_new_range', 'write_new_range'],
  );
  assert.deepEqual(intruder.tactics, [
    'initial-access',
    'discovery',
    'lateral-movement',
    'impair-process-control',
  ]);
  // Progression: each tactic is reached no earlier in the kill chain than the one before it.
  for (let i = 1; i < intruder.tactics.length; i++)
    assert.ok(stageOf(intruder.tactics[i]!) > stageOf(intruder.tactics[i - 1]!));
  assert.deepEqual(intruder.techniques, ['T0864', 'T0846', 'T0886', 'T0855', 'T0836']);
  assert.equal(intruder.severity, 'critical');
  assert.deepEqual(intruder.zones, ['control']);
  assert.deepEqual(
    intruder.assets.map((a) => `${a.part} ${a.name ?? a.address}`),
    ['source 10.77.0.66', 'target plc-21'],
  );
  assert.match(
    intruder.title,
    /10\.77\.0\.66: Initial Access → Discovery → Lateral Movement → Impair Process Control against PLC plc-21/,
  );
  // Every step keeps its detection's evidence.
  assert.ok(intruder.timeline.every((s) => s.evidence.frames.length > 0));
  const stop = incidents.find((i) => i !== intruder)!;
  assert.deepEqual(
    stop.timeline.map((s) => s.type),
    ['cpu_stop'],
  );
  assert.ok(stop.tactics.includes('inhibit-response-function'));
  assert.deepEqual(stop.techniques, ['T0881', 'T0858']);
  // The exported shape: small, no timeline.
  // The summary is what the SIEM exporter takes (checked by the compiler).
  const s: IncidentLike & ReturnType<typeof incidentSummary> = incidentSummary(intruder);
  assert.deepEqual(Object.keys(s).sort(), [
    'assets',
    'detectionIds',
    'firstSeen',
    'id',
    'lastSeen',
    'severity',
    'status',
    'tactics',
    'techniques',
    'title',
    'updatedAt',
    'zones',
  ]);
  assert.equal(s.detectionIds.length, 5);
});

test('plant: normal traffic (the learned half, run through the detectors) opens no incident', () => {
  let first = Infinity,
    last = 0;
  readCaptureSync(plant, (f) => {
    first = Math.min(first, f.ts);
    last = Math.max(last, f.ts);
  });
  const split = (first + last) / 2;
  const inv = new Inventory(),
    vr = new ValueRanges();
  const learn = new DissectPipeline({
    onPacket: (p) => p.ts < split && inv.onPacket(p),
    onMessage: (m) => {
      if (m.ts >= split) return;
      inv.onMessage(m);
      vr.onMessage(m);
    },
  });
  readCaptureSync(plant, (f) => learn.push(f));
  const engine = new DetectionEngine(
    baselineFrom(inv.snapshot(), vr.ranges(), { version: 1, sources: [] }),
  );
  const detect = new DissectPipeline({
    onPacket: (p) => p.ts < split && engine.onPacket(p),
    onMessage: (m) => m.ts < split && engine.onMessage(m),
  });
  readCaptureSync(plant, (f) => detect.push(f));
  const ds = engine.finish();
  assert.deepEqual(ds, []);
  assert.deepEqual(correlate(ds), []);
});

test('real DNP3 capture: the control session’s alerts (both directions) are one incident', (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!f) return t.skip('capture missing');
  const { detections } = learnThenDetect(f, 0.5);
  assert.ok(detections.length >= 2);
  const incidents = correlate(detections);
  assert.equal(incidents.length, 1, incidents.map((i) => i.title).join('\n'));
  assert.equal(incidents[0]!.detectionIds.length, detections.length);
  assert.ok(incidents[0]!.tactics.includes('impair-process-control'));
});

/** A detection as the aggregator makes it. */
function d(
  n: number,
  type: Detection['type'],
  src: string,
  dst: string,
  severity: Detection['severity'],
  ts: number,
  detail = '',
  fields: Record<string, unknown> = {},
): Detection {
  const x: Detection = {
    id: `d${n}`,
    type,
    severity,
    ts,
    lastTs: ts,
    count: 1,
    src,
    dst,
    protocol: 'dnp3',
    detail,
    zone: null,
    evidence: { frames: [n], fields },
    explanation: `${type} ${n}`,
    suggestedResponse: '',
    techniques: [],
  };
  x.techniques = techniquesFor(x);
  return x;
}

test('one DNP3 control session’s sixteen high alerts fold into one incident; another master elsewhere stays apart', () => {
  const master = '10.0.0.5',
    rtu = '10.0.0.8';
  const ds: Detection[] = [];
  for (let i = 0; i < 16; i++) {
    const kinds: Array<[Detection['type'], string, Record<string, unknown>]> = [
      ['function_outside_profile', 'dnp3:3', { write: true }],
      ['function_outside_profile', 'dnp3:4', { write: true }],
      ['write_new_range', 'dnp3:5', { space: 'g12v1' }],
      ['value_out_of_range', 'dnp3:129', {}],
    ];
    const [type, detail, fields] = kinds[i % 4]!;
    // Value findings come from the outstation's responses: the other direction of the same session.
    const [s, t] = type === 'value_out_of_range' ? [rtu, master] : [master, rtu];
    ds.push(d(i, type, s, t, 'high', 1000 + i * 7, detail, fields));
  }
  ds.push(
    d(99, 'function_outside_profile', '10.9.9.9', '10.9.9.10', 'high', 1010, 'dnp3:3', {
      write: true,
    }),
  );
  const incidents = correlate(ds);
  assert.equal(incidents.length, 2);
  const session = incidents.find((i) => i.sources.includes(master))!;
  assert.equal(session.detectionIds.length, 16);
  assert.deepEqual(
    session.timeline.map((s) => s.ts),
    [...session.timeline.map((s) => s.ts)].sort((a, b) => a - b),
  );
  for (const i of incidents)
    for (const id of i.techniques)
      assert.ok(ATTACK_TECHNIQUES[id], `${id} is a knowledge-base technique`);
});

test('a second source acting on a target under attack joins its incident; a later link merges two incidents', () => {
  const plc = '10.77.0.21';
  const a = d(1, 'write_new_range', '10.1.1.1', plc, 'critical', 100, 'modbus:16', {
    space: 'holding_register',
  });
  const b = d(2, 'cpu_stop', '10.1.1.2', plc, 'critical', 200, 's7comm:41');
  // A scan of some other host by a third source is not "acting on" the PLC: its own incident.
  const c = d(3, 'port_scan', '10.1.1.3', '10.77.0.99', 'high', 150);
  const incidents = correlate([a, b, c]);
  assert.equal(incidents.length, 2);
  assert.deepEqual(incidents.find((i) => i.detectionIds.includes('d1'))!.detectionIds, [
    'd1',
    'd2',
  ]);
  // Filed one at a time, an incident per source first; then 10.1.1.3 writes the PLC: all one incident.
  const inc = new IncidentCorrelator(lookups);
  inc.add(c);
  inc.add(a);
  inc.add(
    d(4, 'write_new_range', '10.1.1.3', plc, 'critical', 300, 'modbus:16', {
      space: 'holding_register',
    }),
  );
  const all = inc.all();
  assert.equal(all.length, 1);
  assert.deepEqual([...all[0]!.detectionIds].sort(), ['d1', 'd3', 'd4']);
  assert.equal(
    all[0]!.id,
    correlate([a])[0]!.id,
    'the oldest incident (first seen) survives a merge',
  );
  assert.ok(inc.takeChanges().removed.length === 1);
});

test('severity: worst step, one worse when a controller is a target; far apart in time is two incidents', () => {
  const hmi = d(
    1,
    'function_outside_profile',
    '10.5.5.5',
    '10.5.5.6',
    'medium',
    100,
    'modbus:3',
    {},
  );
  assert.equal(correlate([hmi])[0]!.severity, 'medium');
  const onPlc = d(
    2,
    'function_outside_profile',
    '10.5.5.5',
    '10.77.0.21',
    'medium',
    100,
    'modbus:6',
    { write: true },
  );
  assert.equal(correlate([onPlc])[0]!.severity, 'high');
  const later = d(
    3,
    'function_outside_profile',
    '10.5.5.5',
    '10.5.5.6',
    'medium',
    100 + 5 * 3600,
    'modbus:4',
    {},
  );
  assert.equal(correlate([hmi, later]).length, 2);
});
