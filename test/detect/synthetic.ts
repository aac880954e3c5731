// Builders for packets and messages as the dissect pipeline would produce them, for detector unit tests.
import { newPacket, TcpFlag, type Packet } from '../../src/dissect/packet.js';
import {
  newMessage,
  type Message,
  type PduContext,
  type ProtocolName,
} from '../../src/dissect/message.js';
import { Inventory } from '../../src/discover/inventory.js';
import { ValueRanges } from '../../src/discover/values.js';
import { baselineFrom, type Baseline } from '../../src/discover/baseline.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { Detection } from '../../src/detect/detection.js';

let frame = 0;

export function ip4(s: string): number {
  return s.split('.').reduce((n, x) => n * 256 + Number(x), 0);
}

export function tcp(
  ts: number,
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags: number = TcpFlag.ACK | TcpFlag.PSH,
  len = 12,
): Packet {
  const p = newPacket();
  p.frame = ++frame;
  p.ts = ts;
  p.ipVersion = 4;
  p.ipProto = 6;
  p.srcIp = src;
  p.dstIp = dst;
  p.srcIp4 = ip4(src);
  p.dstIp4 = ip4(dst);
  p.srcPort = sport;
  p.dstPort = dport;
  p.tcpFlags = flags;
  p.srcMac = '02:00:00:00:00:' + src.split('.')[3]!.padStart(2, '0').slice(-2);
  p.payloadLength = len;
  p.wireLen = 54 + len;
  p.etherType = 0x0800;
  return p;
}

export function udp(ts: number, src: string, sport: number, dst: string, dport: number): Packet {
  const p = tcp(ts, src, sport, dst, dport, 0);
  p.ipProto = 17;
  return p;
}

export function msg(pkt: Packet, protocol: ProtocolName, set: Partial<Message>): Message {
  const ctx: PduContext = {
    frame: pkt.frame,
    ts: pkt.ts,
    transport: pkt.ipProto === 17 ? 'udp' : 'tcp',
    srcMac: pkt.srcMac,
    dstMac: pkt.dstMac,
    srcIp: pkt.srcIp,
    dstIp: pkt.dstIp,
    srcPort: pkt.srcPort,
    dstPort: pkt.dstPort,
  };
  return Object.assign(newMessage(ctx, protocol), set);
}

/** A sink that feeds a packet and its messages to hooks, as the pipeline does. */
export function feed(
  h: { onPacket(p: Packet): void; onMessage(m: Message): void },
  pkt: Packet,
  ...ms: Message[]
): void {
  h.onPacket(pkt);
  for (const m of ms) h.onMessage(m);
}

export const HMI = '10.1.0.10',
  PLC = '10.1.0.20',
  EWS = '10.1.0.30',
  EVIL = '10.1.0.66';

/** An HMI polling a PLC (FC3 on 0..9 every 200 ms, FC6 to register 100 now and then). */
export function normalTraffic(
  h: { onPacket: any; onMessage: any },
  t0: number,
  seconds: number,
): number {
  let tx = 0,
    t = t0;
  for (; t < t0 + seconds; t += 0.2) {
    tx++;
    const q = tcp(t, HMI, 40000, PLC, 502);
    feed(
      h,
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
    feed(
      h,
      r,
      msg(r, 'modbus', {
        role: 'response',
        func: 3,
        funcName: 'READ_HOLDING_REGISTERS',
        unit: 1,
        txId: tx,
        values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 50 + (tx % 5)],
      }),
    );
    if (tx % 25 === 0) {
      const w = tcp(t + 0.1, HMI, 40000, PLC, 502);
      feed(
        h,
        w,
        msg(w, 'modbus', {
          role: 'request',
          func: 6,
          funcName: 'WRITE_SINGLE_REGISTER',
          unit: 1,
          txId: 90000 + tx,
          write: true,
          targets: [{ space: 'holding_register', start: 100, count: 1 }],
          values: [20 + (tx % 3)],
        }),
      );
    }
  }
  return t;
}

export function learn(): Baseline {
  const inv = new Inventory();
  const vr = new ValueRanges();
  normalTraffic(
    {
      onPacket: (p: any) => inv.onPacket(p),
      onMessage: (m: any) => {
        inv.onMessage(m);
        vr.onMessage(m);
      },
    },
    1000,
    60,
  );
  return baselineFrom(inv.snapshot(), vr.ranges(), { version: 1, sources: ['synthetic'] });
}

/** Every detection of a capture file against an empty baseline (what any traffic raises on its own). */
export function detectFile(file: string): Detection[] {
  const eng = new DetectionEngine(
    baselineFrom(new Inventory().snapshot(), new ValueRanges().ranges(), {
      version: 1,
      sources: [],
    }),
  );
  const p = new DissectPipeline({
    onPacket: (x) => eng.onPacket(x),
    onMessage: (m) => eng.onMessage(m),
  });
  readCaptureSync(file, (f) => p.push(f));
  return eng.finish();
}
