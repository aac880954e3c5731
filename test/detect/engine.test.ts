import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Baseline } from '../../src/discover/baseline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { acceptIntoBaseline } from '../../src/detect/accept.js';
import { TcpFlag } from '../../src/dissect/packet.js';
import { feed, msg, tcp, udp, HMI, PLC, EWS, EVIL, learn, normalTraffic } from './synthetic.js';

test('baseline learns functions, write ranges, value ranges and the polling period', () => {
  const b = learn();
  const e = b.edges[`${HMI}>${PLC}/tcp/502`]!;
  assert.ok(e, 'edge learned');
  assert.deepEqual(e.functions.sort(), ['modbus:3', 'modbus:6']);
  assert.deepEqual(e.writes.holding_register, [[100, 100]]);
  assert.ok(Math.abs(e.pollInterval! - 0.2) < 0.01, `poll ${e.pollInterval}`);
  assert.deepEqual(e.values['holding_register:9'], [50, 54]);
  assert.deepEqual(b.assets.sort(), [HMI, PLC].sort());
});

test('normal traffic after learning gives no detections', () => {
  const eng = new DetectionEngine(learn());
  normalTraffic(eng, 2000, 60);
  assert.deepEqual(
    eng.finish().map((d) => d.type),
    [],
  );
});

test('each deviation is detected, explained and aggregated', () => {
  const eng = new DetectionEngine(learn());
  let t = normalTraffic(eng, 2000, 5);
  // New asset + new edge (answered) + engineering function + write to a new range + out-of-range value.
  const q = tcp(t, EWS, 50000, PLC, 502);
  feed(
    eng,
    q,
    msg(q, 'modbus', {
      role: 'request',
      func: 43,
      funcName: 'READ_DEVICE_IDENTIFICATION',
      txId: 1,
    }),
  );
  const r = tcp(t + 0.01, PLC, 502, EWS, 50000);
  feed(eng, r, msg(r, 'modbus', { role: 'response', func: 43, txId: 1 }));
  for (let i = 0; i < 3; i++) {
    const w = tcp(t + 1 + i, HMI, 40000, PLC, 502);
    feed(
      eng,
      w,
      msg(w, 'modbus', {
        role: 'request',
        func: 6,
        funcName: 'WRITE_SINGLE_REGISTER',
        write: true,
        txId: 7000 + i,
        targets: [{ space: 'holding_register', start: 200, count: 1 }],
        values: [1],
      }),
    );
  }
  // A write function the edge never used: one function_outside_profile listing the ranges, not a write_new_range too.
  const w16 = tcp(t + 4, HMI, 40000, PLC, 502);
  feed(
    eng,
    w16,
    msg(w16, 'modbus', {
      role: 'request',
      func: 16,
      funcName: 'WRITE_MULTIPLE_REGISTERS',
      write: true,
      txId: 7100,
      targets: [{ space: 'holding_register', start: 300, count: 2 }],
      values: [1, 2],
    }),
  );
  const v = tcp(t + 5, HMI, 40000, PLC, 502);
  feed(
    eng,
    v,
    msg(v, 'modbus', {
      role: 'request',
      func: 6,
      funcName: 'WRITE_SINGLE_REGISTER',
      write: true,
      txId: 8000,
      targets: [{ space: 'holding_register', start: 100, count: 1 }],
      values: [999],
    }),
  );
  // Malformed PDU.
  const bad = tcp(t + 6, HMI, 40000, PLC, 502);
  feed(
    eng,
    bad,
    msg(bad, 'modbus', {
      role: 'request',
      func: 3,
      anomaly: { kind: 'byte_count_overrun', detail: 'byte count 200 exceeds PDU' },
    }),
  );
  // Vertical port scan from an unknown host.
  t += 10;
  for (let port = 1; port <= 30; port++)
    eng.onPacket(tcp(t + port * 0.01, EVIL, 60000, PLC, port, TcpFlag.SYN, 0));
  // ICMP-less horizontal sweep on 502.
  for (let h = 1; h <= 12; h++)
    eng.onPacket(tcp(t + 1 + h * 0.01, EVIL, 60001, `10.1.0.${100 + h}`, 502, TcpFlag.SYN, 0));
  const ds = eng.finish();
  const types = ds.map((d) => d.type);
  for (const want of [
    'new_asset',
    'new_edge',
    'device_probe',
    'function_outside_profile',
    'write_new_range',
    'value_out_of_range',
    'malformed_pdu',
    'port_scan',
    'host_scan',
  ]) {
    assert.ok(types.includes(want as never), `missing ${want} in ${types.join(',')}`);
  }
  const wr = ds.find((d) => d.type === 'write_new_range')!;
  assert.equal(wr.count, 3, 'three identical writes fold into one detection');
  assert.match(wr.explanation, /wrote holding_register 200 on/);
  assert.deepEqual(ds.find((d) => d.type === 'function_outside_profile')!.evidence.fields.points, [
    'holding_register:300..301',
  ]);
  assert.ok(wr.evidence.frames.length === 3);
  for (const d of ds)
    assert.ok(d.explanation.length > 20 && d.suggestedResponse.length > 20, `${d.type} explained`);
});

test('polling stopped and request floods are timing anomalies', () => {
  const eng = new DetectionEngine(learn());
  const t = normalTraffic(eng, 2000, 5);
  // Silence for 30 s of capture time (other traffic keeps the clock moving), then a flood.
  for (let s = 1; s <= 30; s++) eng.onPacket(udp(t + s, '10.1.0.10', 123, '10.1.0.1', 123));
  assert.ok(eng.finish().some((d) => d.type === 'polling_stopped'));
  const eng2 = new DetectionEngine(learn());
  for (let i = 0; i < 100; i++) {
    const q = tcp(3000 + i * 0.005, HMI, 40000, PLC, 502);
    feed(
      eng2,
      q,
      msg(q, 'modbus', {
        role: 'request',
        func: 3,
        txId: i,
        targets: [{ space: 'holding_register', start: 0, count: 10 }],
      }),
    );
  }
  assert.ok(eng2.finish().some((d) => d.type === 'flood'));
});

test('S7 CPU stop and program download are critical; ARP spoofing against the baseline is caught', () => {
  const b = learn();
  b.macs[PLC] = '02:00:00:00:00:20';
  const eng = new DetectionEngine(b);
  const s = tcp(5000, EWS, 50100, PLC, 102);
  feed(
    eng,
    s,
    msg(s, 's7comm', {
      role: 'request',
      func: 0x29,
      funcName: 'PLC_STOP',
      write: true,
      fields: { rosctr: 1 },
    }),
  );
  const dl = tcp(5001, EWS, 50100, PLC, 102);
  feed(
    eng,
    dl,
    msg(dl, 's7comm', {
      role: 'request',
      func: 0x1a,
      funcName: 'REQUEST_DOWNLOAD',
      write: true,
      fields: { rosctr: 1 },
    }),
  );
  const a = tcp(5002, EVIL, 0, PLC, 0);
  a.ipVersion = 0;
  feed(eng, a, msg(a, 'arp', { func: 2, identity: { ip: PLC, mac: '02:00:00:00:00:66' } }));
  const ds = eng.finish();
  assert.equal(ds.find((d) => d.type === 'cpu_stop')?.severity, 'critical');
  assert.equal(ds.find((d) => d.type === 'program_download')?.severity, 'critical');
  assert.ok(ds.some((d) => d.type === 'arp_spoofing' && d.dst === PLC));
});

test('mutes silence matching findings; accepting a detection makes it normal', () => {
  const b = learn();
  const run = (bl: Baseline, mutes = {}) => {
    const eng = new DetectionEngine(bl, mutes);
    const w = tcp(2000, HMI, 40000, PLC, 502);
    feed(
      eng,
      w,
      msg(w, 'modbus', {
        role: 'request',
        func: 6,
        write: true,
        txId: 5,
        targets: [{ space: 'holding_register', start: 300, count: 1 }],
        values: [21],
      }),
    );
    return { ds: eng.finish(), muted: eng.muted };
  };
  const first = run(b);
  const d = first.ds.find((x) => x.type === 'write_new_range')!;
  assert.ok(d);
  const muted = run(b, { mutes: [{ type: 'write_new_range', src: HMI, dst: PLC }] });
  assert.equal(muted.ds.length, 0);
  assert.equal(muted.muted, 1);
  const b2 = acceptIntoBaseline(b, d, 'new setpoint register, change #42')!;
  assert.equal(b2.version, 2);
  assert.deepEqual(
    run(b2).ds.map((x) => x.type),
    [],
  );
});
