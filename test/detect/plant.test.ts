// Detection on traffic from real peers: the lab plant (pymodbus server, modbus-serial and snap7 clients,
// nmap) recorded in fixtures/plant.pcap. Learn on the normal first half, detect on the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { learnThenDetect } from '../../bench/detect.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';

test('lab plant: the PLC stop, the scan, the intruder and its writes are detected, and nothing else', () => {
  const r = learnThenDetect(path.join(repoRoot, 'fixtures/plant.pcap'), 0.5);
  const got = r.detections.map((d) => `${d.type} ${d.src}>${d.dst}`).sort();
  assert.deepEqual(got, [
    'cpu_stop 10.77.0.30>10.77.0.22',
    'new_asset 10.77.0.66>10.77.0.21',
    'new_edge 10.77.0.66>10.77.0.21',
    'port_scan 10.77.0.66>10.77.0.21',
    'write_new_range 10.77.0.66>10.77.0.21',
    'write_new_range 10.77.0.66>10.77.0.21',
  ]);
  const stop = r.detections.find((d) => d.type === 'cpu_stop')!;
  assert.equal(stop.severity, 'critical');
  assert.ok(stop.evidence.frames.length > 0 && stop.evidence.fields.func_name === 'PLC_STOP');
  const writes = r.detections.filter((d) => d.type === 'write_new_range').map((d) => d.evidence.fields.space).sort();
  assert.deepEqual(writes, ['coil', 'holding_register']);
});

test('real captures of normal operations stay quiet: learn on the first half, detect on the rest', (t) => {
  // Rates per 10k messages are recorded in bench/RESULTS.md; here the quiet ones must stay quiet.
  for (const [rel, max] of [['ics-pcap/s7_1200_hmi_timer_sync.pcapng', 0], ['icsnpp/bacnet_services.pcap', 5]] as const) {
    const f = sharedCapture(rel);
    if (!f) { t.skip('captures missing'); return; }
    const r = learnThenDetect(f, 0.5);
    assert.ok(r.detections.length <= max, `${rel}: ${r.detections.map((d) => d.type).join(', ')}`);
  }
});
