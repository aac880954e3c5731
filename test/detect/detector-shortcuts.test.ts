// The detectors' own shortcuts (issue 18) must never hide what the long way reports: an I/O table skipped until a
// Forward_Open reply may have filled it, an operation's detail string kept from the previous one, and the value
// and polling checks on busy plants, each attacked with the traffic that would slip past a wrong shortcut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Packet } from '../../src/dissect/packet.js';
import type { Message } from '../../src/dissect/message.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { Detection } from '../../src/detect/detection.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom, type Baseline } from '../../src/discover/baseline.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { udp as udpFrame } from '../fixtures-gen/pcap-writer.js';
import {
  ADAPTER,
  ForwardOpenSession,
  ioDatagram,
  OT_ID,
  OT_RPI,
  SCANNER,
  TO_ID,
  TO_RPI,
} from '../fixtures-gen/enip-io.js';
import { IO_START, pcapAt } from '../fixtures-gen/enip-io-timing.js';
import { feed, msg, tcp, udp, HMI, PLC, EWS, EVIL, learn } from './synthetic.js';

/** The long way: every finding built whole and added (fold always declines). */
class NoFoldEngine extends DetectionEngine {
  override fold(): boolean {
    return false;
  }
}

const plain = (ds: Detection[]): Detection[] => JSON.parse(JSON.stringify(ds)) as Detection[];

test('engineering operations interleaved across pairs, functions and outcomes each land in their own detection', () => {
  // Three senders take turns: DNP3 cold and warm restarts from the HMI and the workstation, some refused by the
  // outstation (a failed attempt is its own detection), and BACnet ReinitializeDevice / AtomicWriteFile from an
  // intruder. A detail remembered from the previous operation must never be reused for the next one.
  const traffic: [Packet, Message][] = [];
  const want = new Map<string, number>();
  const count = (k: string) => want.set(k, (want.get(k) ?? 0) + 1);
  let t = 5000;
  for (let i = 0; i < 400; i++) {
    const src = i % 2 === 0 ? HMI : EWS;
    const sport = i % 2 === 0 ? 40000 : 40001;
    const func = i % 3 === 0 ? 14 : 13;
    const seq = i & 0x0f;
    const q = tcp((t += 0.05), src, sport, PLC, 20000);
    traffic.push([q, msg(q, 'dnp3', { role: 'request', func, txId: seq })]);
    count(`${src} device_restart dnp3:${func}`);
    if (i % 5 === 0) {
      const r = tcp((t += 0.01), PLC, 20000, src, sport);
      traffic.push([r, msg(r, 'dnp3', { role: 'response', func: 129, txId: seq, exception: 4 })]);
      count(`${src} device_restart dnp3:${func}:failed`);
    }
    if (i % 7 === 0) {
      const b = udp((t += 0.01), EVIL, 47808, PLC, 47808);
      const bfunc = i % 2 === 0 ? 20 : 7;
      traffic.push([b, msg(b, 'bacnet', { role: 'request', func: bfunc })]);
      count(`${EVIL} ${bfunc === 20 ? 'device_restart' : 'file_transfer'} bacnet:${bfunc}`);
    }
  }
  const run = (eng: DetectionEngine) => {
    for (const [p, m] of traffic) feed(eng, p, m);
    return plain(eng.finish());
  };
  const short = run(new DetectionEngine(learn(), { windowSeconds: 3600 }));
  const long = run(new NoFoldEngine(learn(), { windowSeconds: 3600 }));
  assert.deepEqual(short, long);
  const got = new Map<string, number>();
  for (const d of short.filter(
    (x) => x.src !== PLC && x.type !== 'new_edge' && x.type !== 'new_asset',
  ))
    got.set(
      `${d.src} ${d.type} ${d.detail}`,
      (got.get(`${d.src} ${d.type} ${d.detail}`) ?? 0) + d.count,
    );
  assert.deepEqual([...got].sort(), [...want].sort());
  // Each failed attempt names the refusal; no sent operation is folded into a failed one or the other way.
  for (const d of short.filter((x) => x.detail.endsWith(':failed')))
    assert.equal(d.evidence.fields.outcome, 'failed');
  for (const d of short.filter(
    (x) => x.detail.startsWith('dnp3:') && !x.detail.endsWith(':failed'),
  ))
    assert.equal(d.evidence.fields.outcome, 'sent');
});

/** A modbus read of holding registers 0..9 and its response on the HMI→PLC edge learn() learned values for. */
function poll(traffic: [Packet, Message][], ts: number, tx: number, values: number[]): void {
  const q = tcp(ts, HMI, 40000, PLC, 502);
  traffic.push([
    q,
    msg(q, 'modbus', {
      role: 'request',
      func: 3,
      funcName: 'READ_HOLDING_REGISTERS',
      unit: 1,
      txId: tx,
      targets: [{ space: 'holding_register', start: 0, count: 10 }],
    }),
  ]);
  const r = tcp(ts + 0.005, PLC, 502, HMI, 40000);
  traffic.push([
    r,
    msg(r, 'modbus', {
      role: 'response',
      func: 3,
      funcName: 'READ_HOLDING_REGISTERS',
      unit: 1,
      txId: tx,
      values,
    }),
  ]);
}

test('a value out of range after 100,000 in-range messages and messages of other edges is still reported', () => {
  const traffic: [Packet, Message][] = [];
  let t = 5000;
  let tx = 0;
  for (let i = 0; i < 50_000; i++) {
    tx = (tx + 1) & 0xffff;
    poll(traffic, (t += 0.01), tx, [1, 2, 3, 4, 5, 6, 7, 8, 9, 50 + (i % 5)]);
    if (i % 10 === 0) {
      // The workstation reads the same registers (an edge without a profile) with wild values, and a BACnet
      // device answers with values on a pair that learned none: neither must move the HMI edge's check.
      const q = tcp(t + 0.001, EWS, 40100, PLC, 502);
      traffic.push([
        q,
        msg(q, 'modbus', {
          role: 'request',
          func: 3,
          unit: 1,
          txId: tx,
          targets: [{ space: 'holding_register', start: 0, count: 10 }],
        }),
      ]);
      const r = tcp(t + 0.002, PLC, 502, EWS, 40100);
      traffic.push([
        r,
        msg(r, 'modbus', {
          role: 'response',
          func: 3,
          unit: 1,
          txId: tx,
          values: Array(10).fill(1e9),
        }),
      ]);
      const b = udp(t + 0.003, PLC, 47808, HMI, 47808);
      traffic.push([
        b,
        msg(b, 'bacnet', {
          role: 'response',
          func: 12,
          txId: tx & 0xff,
          targets: [{ space: 'analog-input:1', start: 85, count: 1 }],
          values: [1e9],
        }),
      ]);
    }
  }
  // Register 9 read far above its learned 50..54 (tolerance 2.7): one finding, after everything above.
  poll(traffic, (t += 0.01), (tx + 1) & 0xffff, [1, 2, 3, 4, 5, 6, 7, 8, 9, 500]);
  const eng = new DetectionEngine(learn());
  for (const [p, m] of traffic) feed(eng, p, m);
  const values = eng.finish().filter((d) => d.type === 'value_out_of_range');
  assert.equal(values.length, 1, JSON.stringify(values.map((d) => [d.src, d.dst, d.detail])));
  const d = values[0]!;
  assert.equal(d.src, PLC);
  assert.equal(d.dst, HMI);
  assert.equal(d.evidence.fields.point, 'holding_register:9');
  assert.equal(d.evidence.fields.value, 500);
  assert.equal(d.evidence.fields.learned_min, 50);
  assert.equal(d.evidence.fields.learned_max, 54);
  assert.equal(d.severity, 'high');
});

test('BACnet values on an edge without learned values raise no value finding, and the learned edge still does', () => {
  // The BACnet pair was learned (so it has a profile) but its baseline holds no values: its placed messages
  // must behave as before (nothing), however far the values go, while the Modbus edge's check still works.
  const inv = new Inventory();
  const vr = new ValueRanges();
  const sink = {
    onPacket: (p: Packet) => inv.onPacket(p),
    onMessage: (m: Message) => {
      inv.onMessage(m);
      vr.onMessage(m);
    },
  };
  const learning: [Packet, Message][] = [];
  for (let i = 0; i < 300; i++) {
    poll(learning, 1000 + i * 0.2, i + 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 50 + (i % 5)]);
    const q = udp(1000.1 + i * 0.2, EWS, 47808, PLC, 47808);
    learning.push([q, msg(q, 'bacnet', { role: 'request', func: 12, txId: i & 0xff })]);
  }
  for (const [p, m] of learning) feed(sink, p, m);
  const b = baselineFrom(inv.snapshot(), vr.ranges(), { version: 1, sources: ['synthetic'] });
  const eng = new DetectionEngine(b);
  const traffic: [Packet, Message][] = [];
  for (let i = 0; i < 2000; i++) {
    const ts = 2000 + i * 0.2;
    const q = udp(ts, EWS, 47808, PLC, 47808);
    traffic.push([
      q,
      msg(q, 'bacnet', {
        role: 'request',
        func: 12,
        txId: i & 0xff,
        targets: [{ space: 'analog-input:1', start: 85, count: 1 }],
      }),
    ]);
    const r = udp(ts + 0.01, PLC, 47808, EWS, 47808);
    traffic.push([
      r,
      msg(r, 'bacnet', { role: 'response', func: 12, txId: i & 0xff, values: [i * 1e6] }),
    ]);
    poll(traffic, ts + 0.05, i + 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, i === 1999 ? -400 : 52]);
  }
  for (const [p, m] of traffic) feed(eng, p, m);
  const values = eng.finish().filter((d) => d.type === 'value_out_of_range');
  assert.deepEqual(
    values.map((d) => `${d.src} ${d.evidence.fields.point} ${d.evidence.fields.value}`),
    [`${PLC} holding_register:9 -400`],
  );
});

test('polling stopped on many edges at the same moment: every edge reported, each with its own evidence', () => {
  // 60 HMIs poll 60 PLCs at periods of 0.5 to 1.09 s while learning; then all of them fall silent at once (a
  // switch failure, or an attacker cutting the SCADA off). Every edge is one polling_stopped detection.
  const N = 60;
  const hmi = (i: number) => `10.2.0.${i + 1}`;
  const plc = (i: number) => `10.3.0.${i + 1}`;
  const period = (i: number) => 0.5 + i * 0.01;
  const inv = new Inventory();
  const sink = {
    onPacket: (p: Packet) => inv.onPacket(p),
    onMessage: (m: Message) => inv.onMessage(m),
  };
  const traffic = (
    from: number,
    to: number,
    h: { onPacket(p: Packet): void; onMessage(m: Message): void },
  ) => {
    const events: [number, number][] = [];
    for (let i = 0; i < N; i++)
      for (let t = from + i * 0.003; t < to; t += period(i)) events.push([t, i]);
    events.sort((a, b) => a[0] - b[0]);
    const last = new Map<number, number>();
    for (const [t, i] of events) {
      const q = tcp(t, hmi(i), 41000 + i, plc(i), 502);
      feed(
        h,
        q,
        msg(q, 'modbus', {
          role: 'request',
          func: 3,
          unit: 1,
          txId: 1,
          targets: [{ space: 'holding_register', start: 0, count: 2 }],
        }),
      );
      last.set(i, t);
    }
    return last;
  };
  traffic(1000, 1300, sink);
  const b: Baseline = baselineFrom(inv.snapshot(), new Map(), {
    version: 1,
    sources: ['synthetic'],
  });
  const eng = new DetectionEngine(b);
  const last = traffic(2000, 2060, eng);
  // One packet of an unrelated pair much later moves the capture clock past every edge's silence.
  const late = tcp(2200, EVIL, 45000, PLC, 80);
  eng.onPacket(late);
  const stopped = eng.finish().filter((d) => d.type === 'polling_stopped');
  assert.equal(stopped.length, N);
  const byDst = new Map(stopped.map((d) => [d.dst, d]));
  for (let i = 0; i < N; i++) {
    const d = byDst.get(plc(i))!;
    assert.ok(d, `edge ${i} reported`);
    assert.equal(d.src, hmi(i));
    assert.equal(d.severity, 'high');
    assert.equal(d.protocol, 'modbus');
    assert.equal(d.count, 1);
    const f = d.evidence.fields;
    assert.equal(f.last_request, last.get(i));
    assert.ok(Math.abs(Number(f.poll_interval) - period(i)) < 1e-6, `${i}: ${f.poll_interval}`);
    assert.equal(f.silent_for_s, Math.round((d.ts - last.get(i)!) * 1000) / 1000);
    assert.equal(
      d.explanation,
      `${hmi(i)} stopped polling ${plc(i)}: it polled every ${Number(f.poll_interval).toFixed(3)} s and has been silent for ${(d.ts - last.get(i)!).toFixed(1)} s.`,
    );
  }
});

test('I/O datagrams seen before their Forward_Open reply: the connection is still watched once the reply arrives', () => {
  // A capture that starts mid-connection: datagrams on both connection ids for 2 s, then the scanner re-opens the
  // connection (its Forward_Open reply grants the RPIs), then a second sender injects O→T datagrams at the same
  // pace twice over. The skip taken while no reply was seen must end with the reply: the injection is io_rate_high.
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-io-late-open-'));
  try {
    const ioS = { ...SCANNER, port: 2222 },
      ioA = { ...ADAPTER, port: 2222 };
    const out: Array<[number, Buffer]> = [];
    const t0 = IO_START,
      open = t0 + 2,
      inject = t0 + 8,
      end = t0 + 12;
    let seq = 1;
    for (let t = t0; t < end; seq++, t += OT_RPI / 1e6)
      out.push([t, udpFrame(ioS, ioA, ioDatagram(OT_ID, seq, [1, 0, 0, 0, seq & 255, 0]))]);
    seq = 1;
    for (let t = t0 + 0.005; t < end; seq++, t += TO_RPI / 1e6)
      out.push([t, udpFrame(ioA, ioS, ioDatagram(TO_ID, seq, [seq & 255, 0, 0, 0]))]);
    new ForwardOpenSession().open().forEach((f, i) => out.push([open + i * 0.0001, f]));
    for (let t = inject + 0.0025, s = 0x100000; t < end; t += OT_RPI / 2e6, s++)
      out.push([t, udpFrame(ioS, ioA, ioDatagram(OT_ID, s, [1, 0, 0, 0, 0xff, 0]))]);
    const file = path.join(dir, 'late-open.pcap');
    writeFileSync(file, pcapAt(out));
    const eng = new DetectionEngine(
      baselineFrom(new Inventory().snapshot(), new Map(), { version: 1, sources: [] }),
    );
    const p = new DissectPipeline({
      onPacket: (x) => eng.onPacket(x),
      onMessage: (m) => eng.onMessage(m),
    });
    readCaptureSync(file, (f) => p.push(f));
    const io = eng.finish().filter((d) => d.type.startsWith('io_'));
    assert.deepEqual(
      io.map((d) => `${d.type} ${d.src} ${d.detail} rpi ${d.evidence.fields.rpi_us}`),
      [`io_rate_high ${SCANNER.ip} O->T 0x${OT_ID.toString(16).padStart(8, '0')} rpi ${OT_RPI}`],
    );
    assert.ok(io[0]!.ts >= inject, 'raised by the injection, not before');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
