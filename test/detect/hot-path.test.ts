// The hot path's shortcuts must decide exactly as the long way: folding a repeat without building its finding,
// routing messages by protocol, the edge table's last-edge cache, the split-free IPv4 parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregator } from '../../src/detect/aggregator.js';
import type { Finding } from '../../src/detect/detection.js';
import type { Detector } from '../../src/detect/detector.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { Packet } from '../../src/dissect/packet.js';
import type { Message } from '../../src/dissect/message.js';
import { EdgeTable, type EdgeAddress } from '../../src/discover/edge-table.js';
import { ipv4Number } from '../../src/discover/address-scope.js';
import { feed, msg, tcp, udp, HMI, PLC, EWS, EVIL, learn } from './synthetic.js';

function finding(i: number): Finding {
  // Repeats of a few keys, some escalating, some past the window, some naming points.
  const severity = (['low', 'medium', 'high', 'critical'] as const)[(i * 7) % 4]!;
  return {
    type: i % 3 === 0 ? 'program_download' : 'config_change',
    severity,
    ts: 1000 + i * 13,
    frame: i + 1,
    src: `10.0.0.${i % 2}`,
    dst: '10.0.0.9',
    protocol: 'cip',
    detail: `cip:${i % 5}`,
    ...(i % 4 === 0 ? { point: `class_0x${(i % 7).toString(16)}/service_0x4b` } : {}),
    fields: { i },
    explanation: `finding ${i}`,
    explainMany: (list, total) => `${total} points: ${list}`,
    response: 'check',
  };
}

test('folding a repeat from its folding fields gives the same detections as adding the whole finding', () => {
  const long = new Aggregator(300),
    short = new Aggregator(300);
  for (let i = 0; i < 400; i++) {
    const f = finding(i);
    long.add(f);
    if (!short.fold(f.type, f.src, f.dst, f.detail, f.severity, f.ts, f.frame, f.point))
      short.add(f);
  }
  const strip = (ds: ReturnType<Aggregator['all']>) => JSON.parse(JSON.stringify(ds));
  assert.deepEqual(strip(short.all()), strip(long.all()));
  assert.ok(
    long.all().some((d) => d.count > 1),
    'some findings folded',
  );
});

test('repeats in runs on one pair fold as the long way does, across escalations and reopened windows', () => {
  // The aggregator keeps the last key it looked up with its open detection, so a run of repeats folds without
  // building the key: a run continues past an escalation (a new detection opens under the same key) and past the
  // fold window (the key reopens), and other pairs interleave. The long way adds every finding whole, each after
  // a lookup of a key that never opens, so none of its lookups finds the last key.
  const cached = new Aggregator(60),
    long = new Aggregator(60);
  let ts = 1000;
  for (let run = 0; run < 120; run++) {
    const pair = (run * 7) % 3;
    const repeats = 1 + ((run * 5) % 9);
    for (let k = 0; k < repeats; k++) {
      ts += run % 11 === 0 && k === 2 ? 90 : 3; // now and then past the window mid-run
      const severity = (['low', 'medium', 'high'] as const)[k === 4 ? 2 : (run + k) % 2]!;
      const f: Finding = {
        type: 'program_download',
        severity,
        ts,
        frame: run * 100 + k,
        src: `10.0.0.${pair}`,
        dst: '10.0.0.9',
        protocol: 's7comm',
        detail: `s7comm:${pair === 2 ? 'download' : 'upload'}`,
        point: k % 3 === 0 ? `db:${run % 4}` : undefined,
        pointValue: undefined,
        fields: { run, k },
        explanation: `run ${run} repeat ${k}`,
        explainMany: (list, total) => `${total} points: ${list}`,
        response: 'check',
      };
      long.fold('new_asset', 'nobody', 'nowhere', '', 'info', ts, 0, undefined);
      long.add(f);
      if (!cached.fold(f.type, f.src, f.dst, f.detail, f.severity, f.ts, f.frame, f.point))
        cached.add(f);
    }
  }
  const strip = (ds: ReturnType<Aggregator['all']>) => JSON.parse(JSON.stringify(ds));
  const all = long.all();
  assert.deepEqual(strip(cached.all()), strip(all));
  assert.ok(all.length > 3 && all.some((d) => d.count > 3), 'runs folded, and keys reopened');
});

test('folding a repeat keeps the extremes of each point exactly as adding the whole value finding does', () => {
  // value_out_of_range folds from its folding fields with the point's value: the evidence's per-point
  // [min, max] must move on every folded repeat, as add() moves it.
  const long = new Aggregator(300),
    short = new Aggregator(300);
  for (let i = 0; i < 400; i++) {
    const point = `holding_register:${i % 6}`;
    const f: Finding = {
      type: 'value_out_of_range',
      severity: (['low', 'medium', 'high'] as const)[(i * 5) % 3]!,
      ts: 1000 + i * 7,
      frame: i + 1,
      src: '10.0.0.1',
      dst: '10.0.0.9',
      protocol: 'modbus',
      detail: `modbus:${3 + (i % 2)}`,
      point,
      pointValue: ((i * 37) % 101) - 50,
      fields: { point, value: i },
      explanation: `value ${i}`,
      explainMany: (list, total) => `${total} points: ${list}`,
      response: 'check',
    };
    long.add(f);
    if (
      !short.fold(f.type, f.src, f.dst, f.detail, f.severity, f.ts, f.frame, f.point, f.pointValue)
    )
      short.add(f);
  }
  const strip = (ds: ReturnType<Aggregator['all']>) => JSON.parse(JSON.stringify(ds));
  assert.deepEqual(strip(short.all()), strip(long.all()));
  assert.ok(
    long
      .all()
      .some((d) => d.count > 1 && Object.keys(d.evidence.fields.point_values as object).length > 1),
    'some findings folded over several points with values',
  );
});

/** The long way: every finding built whole and added (fold always declines). */
class NoFoldEngine extends DetectionEngine {
  override fold(): boolean {
    return false;
  }
}

test('value, write-range and function detectors folding repeats give the detections of the long way', () => {
  // Out-of-range reads polled again and again (values moving, so each point's extremes move), repeated writes to
  // unlearned registers, an unlearned function repeated, on a learned edge and on a new one.
  // One traffic list fed to both engines (the synthetic packets number their frames as they are made).
  const traffic: [Packet, Message][] = [];
  const push = (p: Packet, m: Message) => traffic.push([p, m]);
  // A write request to the PLC: FC6 of one register or FC16 of as many as values.
  const write = (
    at: number,
    src: string,
    sport: number,
    func: 6 | 16,
    txId: number,
    start: number,
    values: number[],
  ) => {
    const w = tcp(at, src, sport, PLC, 502);
    push(
      w,
      msg(w, 'modbus', {
        role: 'request',
        func,
        funcName: func === 6 ? 'WRITE_SINGLE_REGISTER' : 'WRITE_MULTIPLE_REGISTERS',
        unit: 1,
        txId,
        write: true,
        targets: [{ space: 'holding_register', start, count: values.length }],
        values,
      }),
    );
  };
  {
    let tx = 0;
    for (let t = 2000; t < 2060; t += 0.2) {
      tx++;
      const q = tcp(t, HMI, 40000, PLC, 502);
      push(
        q,
        msg(q, 'modbus', {
          role: 'request',
          func: 3,
          funcName: 'READ_HOLDING_REGISTERS',
          unit: 1,
          txId: tx,
          targets: [{ space: 'holding_register', start: 0, count: 10 }],
        }),
      );
      const r = tcp(t + 0.005, PLC, 502, HMI, 40000);
      push(
        r,
        msg(r, 'modbus', {
          role: 'response',
          func: 3,
          funcName: 'READ_HOLDING_REGISTERS',
          unit: 1,
          txId: tx,
          values: [1, 2, 300 + (tx % 17), 4, 5, 6, 7 - (tx % 40), 8, 9, 500 + ((tx * 7) % 23)],
        }),
      );
      if (tx % 3 === 0) write(t + 0.1, HMI, 40000, 6, 90000 + tx, 200 + (tx % 9), [tx]);
      if (tx % 4 === 0) write(t + 0.15, HMI, 40000, 16, 80000 + tx, 300 + (tx % 5), [tx, tx]);
      if (tx % 5 === 0) write(t + 0.17, EVIL, 41000, 6, 70000 + tx, 400 + (tx % 3), [tx]);
    }
  }
  const run = (eng: DetectionEngine) => {
    for (const [p, m] of traffic) feed(eng, p, m);
    return JSON.parse(JSON.stringify(eng.finish())) as ReturnType<DetectionEngine['finish']>;
  };
  const baseline = learn();
  const short = run(new DetectionEngine(baseline, { windowSeconds: 20 }));
  const long = run(new NoFoldEngine(baseline, { windowSeconds: 20 }));
  assert.deepEqual(short, long);
  for (const type of ['value_out_of_range', 'write_new_range', 'function_outside_profile'])
    assert.ok(
      short.some((d) => d.type === type && d.count > 1),
      `${type} folded repeats`,
    );
});

test('a detector for one protocol sees only its messages; requests get the operation and key once', () => {
  const seen: string[] = [];
  const keys: number[] = [];
  const only: Detector = {
    name: 'only_dnp3',
    protocols: ['dnp3'],
    onMessage(m, ctx) {
      seen.push(m.protocol);
      if (m.role === 'request') keys.push(ctx.funcKey);
    },
  };
  const eng = new DetectionEngine(learn(), { detectors: [only] });
  const a = tcp(2000, HMI, 40000, PLC, 502);
  feed(eng, a, msg(a, 'modbus', { role: 'request', func: 3 }));
  const b = tcp(2001, HMI, 40001, PLC, 20000);
  feed(eng, b, msg(b, 'dnp3', { role: 'request', func: 1 }));
  const c = udp(2002, EWS, 47808, PLC, 47808);
  feed(eng, c, msg(c, 'bacnet', { role: 'request', func: 12 }));
  assert.deepEqual(seen, ['dnp3']);
  assert.equal(keys.length, 1);
});

function addr(e: EdgeAddress): string {
  return e.id;
}

test('the edge table answers the same edge and direction with its last-edge cache as a fresh table does', () => {
  // Interleaved flows, replies, same-port peers (whose orientation depends on servers seen since) and ICMP.
  const packets = [
    tcp(1, HMI, 40000, PLC, 502),
    tcp(2, PLC, 502, HMI, 40000),
    tcp(3, PLC, 502, HMI, 40000),
    udp(4, EWS, 20000, PLC, 20000),
    udp(5, PLC, 20000, EWS, 20000),
    udp(6, HMI, 50000, PLC, 20000),
    udp(7, PLC, 20000, EWS, 20000),
    udp(8, EWS, 20000, PLC, 20000),
    tcp(9, HMI, 40000, PLC, 502),
    tcp(10, HMI, 40000, PLC, 502),
  ];
  const icmp = tcp(11, HMI, 0, PLC, 0);
  icmp.ipProto = 1;
  packets.push(icmp, tcp(12, PLC, 0, HMI, 0));
  packets.at(-1)!.ipProto = 1;
  const cached = new EdgeTable<EdgeAddress>((a) => a);
  const got = packets.map((p) => [addr(cached.lookup(p)), cached.toServer]);
  // Each answer again from a table that has seen the same packets but looks this one up first thing.
  const want = packets.map((p, i) => {
    const t = new EdgeTable<EdgeAddress>((a) => a);
    for (let j = 0; j < i; j++) t.lookup(packets[j]!);
    // A lookup of an unrelated flow in between, so the cache cannot hold this packet's edge.
    t.lookup(tcp(0, '10.9.9.9', 1, '10.9.9.8', 2));
    return [addr(t.lookup(p)), t.toServer];
  });
  assert.deepEqual(got, want);
  // The same-port peer flips to the end later seen serving an ephemeral client.
  assert.deepEqual(got[6], [`${EWS}>${PLC}/udp/20000`, false]);
});

test('ipv4Number parses dotted text in place exactly as the split-based parser decides', () => {
  const general = (ip: string): number => {
    const p = ip.split('.');
    if (p.length !== 4) return -1;
    let n = 0;
    for (const x of p) {
      const v = Number(x);
      if (!Number.isInteger(v) || v < 0 || v > 255 || x === '') return -1;
      n = n * 256 + v;
    }
    return n;
  };
  const fixed = [
    '1.2.3.4',
    '255.255.255.255',
    '0.0.0.0',
    '256.1.1.1',
    '1.2.3',
    '1.2.3.4.5',
    '1..3.4',
  ];
  fixed.push(
    '1.2.3.',
    '.1.2.3',
    '01.002.3.4',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '0x1.2.3.4',
    '1e2.1.1.1',
    '::1',
    '',
  );
  for (const s of fixed) assert.equal(ipv4Number(s), general(s), s);
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const alphabet = '0123456789.';
  for (let i = 0; i < 20000; i++) {
    let s = '';
    for (let j = 1 + rnd(16); j > 0; j--) s += alphabet[rnd(alphabet.length)];
    assert.equal(ipv4Number(s), general(s), s);
  }
});
