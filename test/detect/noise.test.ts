// Issue 11 item 5: detections that mean something. A control session is one detection per pair and
// function, learned value ranges have a tolerance, and the severity says how far out a value is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learnThenDetect } from '../../bench/detect.js';
import { sharedCapture } from '../helpers/paths.js';
import { DetectionEngine, type Mute } from '../../src/detect/engine.js';
import { acceptIntoBaseline } from '../../src/detect/accept.js';
import { feed, learn, msg, normalTraffic, tcp, HMI, PLC } from './synthetic.js';

test('one DNP3 control session (select/operate on 14 points) is one detection per pair and function', (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!f) {
    t.skip('captures missing');
    return;
  }
  const r = learnThenDetect(f, 0.3);
  // SELECT and OPERATE were never used on this pair: one detection each, listing the 14 points.
  const perPairFunction = new Map<string, number>();
  for (const d of r.detections)
    perPairFunction.set(
      `${d.src}>${d.dst} ${d.detail}`,
      (perPairFunction.get(`${d.src}>${d.dst} ${d.detail}`) ?? 0) + 1,
    );
  assert.deepEqual(
    [...perPairFunction.values()].filter((n) => n > 1),
    [],
    r.detections.map((d) => `${d.type} ${d.detail}`).join('\n'),
  );
  assert.ok(
    !r.detections.some((d) => d.type === 'write_new_range'),
    'the writes are evidence of the new functions',
  );
  const select = r.detections.find(
    (d) => d.type === 'function_outside_profile' && d.detail === 'dnp3:3',
  )!;
  assert.equal(select.evidence.fields.points_count, 14);
  assert.ok((select.evidence.fields.points as string[]).includes('g12v1:0'));
  assert.match(select.explanation, /SELECT .*writing 14 points \(g12v1:\d+, /);
  assert.equal(select.severity, 'high');
  const high = r.detections.filter((d) => d.severity === 'high' || d.severity === 'critical');
  assert.equal(high.length, 2, `${high.length} high alerts: ${high.map((d) => d.type).join(', ')}`);
});

function writeValue(eng: DetectionEngine, ts: number, v: number, register = 100): void {
  const w = tcp(ts, HMI, 40000, PLC, 502);
  feed(
    eng,
    w,
    msg(w, 'modbus', {
      role: 'request',
      func: 6,
      funcName: 'WRITE_SINGLE_REGISTER',
      unit: 1,
      txId: 60000 + ts,
      write: true,
      targets: [{ space: 'holding_register', start: register, count: 1 }],
      values: [v],
    }),
  );
}

test('a learned value range has a tolerance: 24 against a learned 20..22 is normal drift', () => {
  const b = learn();
  assert.deepEqual(b.edges[`${HMI}>${PLC}/tcp/502`]!.values['holding_register:100'], [20, 22]);
  const eng = new DetectionEngine(b);
  const t = normalTraffic(eng, 2000, 5);
  writeValue(eng, t + 1, 24);
  writeValue(eng, t + 2, 18);
  assert.deepEqual(
    eng.finish().map((d) => `${d.type} ${d.severity}`),
    [],
  );
});

test('severity grows with how far out of its tolerance a value is', () => {
  const sev = (v: number): string => {
    const eng = new DetectionEngine(learn());
    writeValue(eng, 2000, v);
    const d = eng.finish().find((x) => x.type === 'value_out_of_range');
    return d ? d.severity : 'none';
  };
  // Learned 20..22: tolerance 2 (the span). Writes are one step worse than reads.
  assert.equal(sev(25), 'medium'); // 1.5 tolerances out
  assert.equal(sev(35), 'high'); // 6.5 tolerances out
  assert.equal(sev(999), 'high');
  const eng = new DetectionEngine(learn());
  const q = tcp(2000, HMI, 40000, PLC, 502);
  feed(
    eng,
    q,
    msg(q, 'modbus', {
      role: 'request',
      func: 3,
      funcName: 'READ_HOLDING_REGISTERS',
      unit: 1,
      txId: 1,
      targets: [{ space: 'holding_register', start: 0, count: 10 }],
    }),
  );
  const r = tcp(2000.01, PLC, 502, HMI, 40000);
  // Register 9 learned 50..54 (tolerance 4): 60 is 1.5 tolerances out, a read: low.
  feed(
    eng,
    r,
    msg(r, 'modbus', {
      role: 'response',
      func: 3,
      unit: 1,
      txId: 1,
      values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 60],
    }),
  );
  const d = eng.finish().find((x) => x.type === 'value_out_of_range')!;
  assert.equal(d.severity, 'low');
  assert.match(
    d.explanation,
    /learned range 50\.\.54 by more than its tolerance of 4 \(the larger of the learned span, 5 % of the value and 1\): 1\.5 tolerances out/,
  );
});

test('writes to several new ranges with one function fold into one detection; learning it learns every point', () => {
  const b = learn();
  const run = (bl: typeof b, mutes: Mute[] = []) => {
    const eng = new DetectionEngine(bl, { mutes });
    const w = tcp(2000, HMI, 40000, PLC, 502);
    feed(
      eng,
      w,
      msg(w, 'modbus', {
        role: 'request',
        func: 6,
        funcName: 'WRITE_SINGLE_REGISTER',
        unit: 1,
        txId: 9,
        write: true,
        targets: [{ space: 'holding_register', start: 300, count: 1 }],
        values: [1],
      }),
    );
    const w2 = tcp(2001, HMI, 40000, PLC, 502);
    feed(
      eng,
      w2,
      msg(w2, 'modbus', {
        role: 'request',
        func: 6,
        funcName: 'WRITE_SINGLE_REGISTER',
        unit: 1,
        txId: 10,
        write: true,
        targets: [{ space: 'holding_register', start: 400, count: 1 }],
        values: [4],
      }),
    );
    return eng.finish();
  };
  const ds = run(b);
  assert.equal(ds.length, 1, ds.map((d) => d.explanation).join('\n'));
  assert.deepEqual(ds[0]!.evidence.fields.points, ['holding_register:300', 'holding_register:400']);
  assert.equal(ds[0]!.count, 2);
  // A mute of one point (as mutes were made when findings were per point) silences that point only.
  const one = run(b, [
    { type: 'write_new_range', src: HMI, dst: PLC, detail: 'holding_register:300' },
  ]);
  assert.deepEqual(
    one.map((d) => d.evidence.fields.points),
    [['holding_register:400']],
  );
  const b2 = acceptIntoBaseline(b, ds[0]!, 'new recipe registers')!;
  assert.deepEqual(run(b2), []);
});

test('a new write function on several ranges is one detection; learning it learns the function and its ranges', () => {
  const b = learn();
  const run = (bl: typeof b) => {
    const eng = new DetectionEngine(bl);
    for (const [i, start] of [300, 400, 300].entries()) {
      const w = tcp(2000 + i, HMI, 40000, PLC, 502);
      feed(
        eng,
        w,
        msg(w, 'modbus', {
          role: 'request',
          func: 16,
          funcName: 'WRITE_MULTIPLE_REGISTERS',
          unit: 1,
          txId: 20 + i,
          write: true,
          targets: [{ space: 'holding_register', start, count: 2 }],
          values: [1, 2],
        }),
      );
    }
    return eng.finish();
  };
  const ds = run(b);
  assert.deepEqual(
    ds.map((d) => `${d.type} ×${d.count} ${d.severity}`),
    ['function_outside_profile ×3 high'],
  );
  assert.deepEqual(ds[0]!.evidence.fields.points, [
    'holding_register:300..301',
    'holding_register:400..401',
  ]);
  assert.equal(ds[0]!.evidence.fields.points_count, 2);
  const b2 = acceptIntoBaseline(b, ds[0]!, 'recipe download, change 7')!;
  assert.deepEqual(run(b2), []);
});

test('folding never hides an escalation: a worse finding opens a new detection, milder ones fold into it', () => {
  const seen: string[] = [];
  const eng = new DetectionEngine(learn(), {
    onDetection: (d) => seen.push(`${d.type} ${d.severity}`),
  });
  writeValue(eng, 2000, 25); // medium
  writeValue(eng, 2001, 999); // high: a new alert, not a silent fold
  writeValue(eng, 2002, 26); // medium: folds into the high one
  writeValue(eng, 2002, 30, 100);
  const ds = eng.finish();
  assert.deepEqual(seen, ['value_out_of_range medium', 'value_out_of_range high']);
  assert.deepEqual(
    ds.map((d) => `${d.severity} ×${d.count}`),
    ['medium ×1', 'high ×3'],
  );
  assert.equal(new Set(ds.map((d) => d.id)).size, 2);
});
