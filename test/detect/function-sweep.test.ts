// Function sweeps (issue 21): a client walking function codes folds into one detection listing the functions,
// on a known edge and on a new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectionEngine } from '../../src/detect/engine.js';
import { feed, msg, tcp, HMI, PLC, EVIL, learn, normalTraffic } from './synthetic.js';

function sweep(eng: DetectionEngine, client: string, t0: number, from: number, to: number): void {
  for (let fc = from, t = t0; fc <= to; fc++, t += 0.05) {
    const q = tcp(t, client, 41000, PLC, 502);
    feed(
      eng,
      q,
      msg(q, 'modbus', { role: 'request', func: fc, funcName: `FUNCTION_${fc}`, txId: fc }),
    );
    const r = tcp(t + 0.01, PLC, 502, client, 41000);
    feed(eng, r, msg(r, 'modbus', { role: 'response', func: fc, exception: 1, txId: fc }));
  }
}

test('a sweep of function codes 59–98 on a known edge is one function_sweep listing them all', () => {
  const eng = new DetectionEngine(learn());
  const t = normalTraffic(eng, 2000, 5);
  sweep(eng, HMI, t, 59, 98);
  const ds = eng.finish();
  const sweeps = ds.filter((d) => d.type === 'function_sweep');
  assert.equal(sweeps.length, 1);
  const s = sweeps[0]!;
  assert.equal(s.src, HMI);
  // 40 codes, of which 90 (Schneider UMAS) is an engineering operation with its own detection.
  assert.equal(s.evidence.fields.points_count, 39);
  assert.ok((s.evidence.fields.points as string[]).includes('modbus:59'));
  assert.ok(!(s.evidence.fields.points as string[]).includes('modbus:90'));
  // The device's ILLEGAL FUNCTION answer to it is reported as a failed attempt of that operation.
  const umas = ds.filter((d) => d.type === 'config_change');
  assert.deepEqual(umas.map((d) => d.evidence.fields.outcome).sort(), ['failed', 'sent']);
  assert.match(s.explanation, /ATT&CK for ICS T0888/);
  // Only the functions tried before the sweep was recognised are reported on their own.
  const single = ds.filter((d) => d.type === 'function_outside_profile');
  assert.ok(single.length <= 3, `${single.length} single-function detections`);
});

test('the same sweep from a new client on a new edge is one function_sweep too', () => {
  const eng = new DetectionEngine(learn());
  const t = normalTraffic(eng, 2000, 5);
  sweep(eng, EVIL, t, 59, 98);
  const ds = eng.finish();
  const sweeps = ds.filter((d) => d.type === 'function_sweep');
  assert.equal(sweeps.length, 1);
  assert.equal(sweeps[0]!.evidence.fields.known_edge, false);
  assert.equal(sweeps[0]!.evidence.fields.points_count, 39);
  assert.equal(ds.filter((d) => d.type === 'function_outside_profile').length, 0);
});

test('a few new functions are no sweep: they stay function_outside_profile', () => {
  const eng = new DetectionEngine(learn());
  const t = normalTraffic(eng, 2000, 5);
  sweep(eng, HMI, t, 1, 2);
  const ds = eng.finish();
  assert.equal(ds.filter((d) => d.type === 'function_sweep').length, 0);
  assert.equal(ds.filter((d) => d.type === 'function_outside_profile').length, 2);
});
