// Per-protocol dissection cost: every PDU of a protocol's capture through its own dissector (framed by pduLength,
// one state per direction, as the reassembler does), many times over, in ns per PDU (median of 5 rounds).
// Modbus and S7comm from the plant capture are the reference. Run: npm run build && node dist/bench/protocols.js
import path from 'node:path';
import { readCaptureSync } from '../src/capture/source.js';
import { decodeFrame } from '../src/dissect/link.js';
import { newPacket } from '../src/dissect/packet.js';
import { protocolDescriptor } from '../src/dissect/registry.js';
import type { Message, PduContext } from '../src/dissect/message.js';
import { hartipSession } from '../test/fixtures-gen/hartip-session.js';
import { slmpSession } from '../test/fixtures-gen/slmp-session.js';
import { writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import type { Frame } from '../src/capture/frame.js';
import { mmsSession } from '../test/fixtures-gen/mms-session.js';
import { gooseNormal, svStream } from '../test/fixtures-gen/goose-frames.js';
import { profinetIoSession } from '../test/fixtures-gen/profinet-io-session.js';
import { c37118Session } from '../test/fixtures-gen/c37118-session.js';
import { umasSession } from '../test/fixtures-gen/umas-session.js';
import { enipIoTiming } from '../test/fixtures-gen/enip-io-timing.js';
import { sharedPcaps } from './results.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'weir-bench-proto-'));
const slmpFile = path.join(tmp, 'slmp.pcap');
writeFileSync(slmpFile, slmpSession());
const hartFile = path.join(tmp, 'hartip.pcap');
writeFileSync(hartFile, hartipSession());

interface Pdu {
  b: Uint8Array;
  toServer: boolean;
  udp: boolean;
  srcPort: number;
  dstPort: number;
}

const gen = (name: string, data: Buffer): string => {
  const f = path.join(tmp, name);
  writeFileSync(f, data);
  return f;
};

/** The protocol's payloads in a capture (whole TCP segments here are whole PDUs: the captures are not split). */
function payloads(file: string, protocol: string): Pdu[] {
  const d = protocolDescriptor(protocol)!;
  const tcp = new Set(d.ports.tcp),
    udp = new Set(d.ports.udp);
  const out: Pdu[] = [];
  const pkt = newPacket();
  readCaptureSync(file, (f) => {
    decodeFrame(f, pkt);
    if (pkt.payloadLength === 0) return;
    const isUdp = pkt.ipProto === 17;
    const ports = isUdp ? udp : tcp;
    if (!ports.has(pkt.dstPort) && !ports.has(pkt.srcPort)) return;
    out.push({
      b: pkt.data.slice(pkt.payloadOffset, pkt.payloadOffset + pkt.payloadLength),
      toServer: ports.has(pkt.dstPort),
      udp: isUdp,
      srcPort: pkt.srcPort,
      dstPort: pkt.dstPort,
    });
  });
  return out;
}

const ctx: PduContext = {
  frame: 1,
  ts: 1,
  transport: 'tcp',
  srcMac: '',
  dstMac: '',
  srcIp: '10.0.0.1',
  dstIp: '10.0.0.2',
  srcPort: 40000,
  dstPort: 1,
};

function round(protocol: string, pdus: Pdu[], repeat: number): number {
  const d = protocolDescriptor(protocol)!;
  const out: Message[] = [];
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < repeat; k++) {
    const states = d.stream ? [d.stream.newState(), d.stream.newState()] : [];
    for (const p of pdus) {
      out.length = 0;
      // The ports choose the datagram dissector's path (EtherNet/IP: UDP 2222 is class 1 I/O).
      ctx.srcPort = p.srcPort;
      ctx.dstPort = p.dstPort;
      if (p.udp) {
        d.datagram!.dissect(p.b, 0, p.b.length, ctx, p.toServer, out);
        n++;
        continue;
      }
      for (let o = 0; o < p.b.length; ) {
        const len = d.stream!.pduLength(p.b, o, p.b.length - o);
        if (len <= 0 || o + len > p.b.length) break;
        d.stream!.dissect(p.b, o, len, ctx, p.toServer, out, states[p.toServer ? 0 : 1]);
        o += len;
        n++;
      }
    }
  }
  return Number(process.hrtime.bigint() - t0) / Math.max(1, n);
}

// [label, descriptor whose dissector runs, capture]: MMS and S7comm-plus ride S7comm's TPKT/COTP dissector on
// port 102, UMAS is Modbus function 90, class 1 I/O is EtherNet/IP on UDP 2222.
const s7plus = path.join(sharedPcaps, 'icsnpp/s7comm_plus.pcap');
const cases: [string, string, string | null][] = [
  ['modbus', 'modbus', path.join(root, 'fixtures/plant.pcap')],
  ['s7comm', 's7comm', path.join(root, 'fixtures/plant.pcap')],
  ['opcua', 'opcua', path.join(root, 'fixtures/opcua-session.pcap')],
  ['hartip', 'hartip', hartFile],
  ['fins', 'fins', path.join(root, 'fixtures/fins-session.pcap')],
  ['slmp', 'slmp', slmpFile],
  ['mms (COTP on 102)', 's7comm', gen('mms.pcap', mmsSession())],
  ['profinet_io CM (DCE/RPC)', 'profinet_io', gen('pnio.pcap', profinetIoSession())],
  ['c37118', 'c37118', gen('c37.pcap', c37118Session())],
  ['umas (Modbus 90)', 'modbus', gen('umas.pcap', umasSession())],
  ['enip class 1 I/O', 'enip', gen('enip-io.pcap', enipIoTiming({ change: 'steady' }))],
  ['s7comm_plus (real S7-1200)', 's7comm', existsSync(s7plus) ? s7plus : null],
];
const rows: string[] = [
  '| protocol | dissector | PDUs per round | ns per PDU (median of 5) |',
  '| --- | --- | --- | --- |',
];
for (const [label, protocol, file] of cases) {
  if (file === null) {
    rows.push(`| ${label} | ${protocol} | capture missing | |`);
    continue;
  }
  const pdus = payloads(file, protocol);
  const repeat = Math.max(1, Math.ceil(200_000 / Math.max(1, pdus.length)));
  round(protocol, pdus, Math.ceil(repeat / 4)); // warm-up
  const times = Array.from({ length: 5 }, () => round(protocol, pdus, repeat)).sort(
    (a, b) => a - b,
  );
  rows.push(`| ${label} | ${protocol} | ${pdus.length} × ${repeat} | ${times[2]!.toFixed(0)} |`);
}
console.log(rows.join('\n'));

// Protocols carried on Ethernet have no port framing: their frames go through the pipeline (link layer, then
// the dissector), one pipeline per round, a frame at a time; the link decode is in the figure.
function framesOf(file: string): Frame[] {
  const out: Frame[] = [];
  readCaptureSync(file, (f) =>
    out.push({ ...f, data: f.data.slice(f.offset, f.offset + f.capLen), offset: 0 }),
  );
  return out;
}

function l2Round(frames: Frame[], protocol: string, repeat: number): number {
  let n = 0;
  const p = new DissectPipeline({
    onMessage: (m) => {
      if (m.protocol === protocol) n++;
    },
  });
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < repeat; k++) for (const f of frames) p.push(f);
  return Number(process.hrtime.bigint() - t0) / Math.max(1, n);
}

const l2: [string, string, string][] = [
  ['goose', 'goose', gen('goose.pcap', gooseNormal())],
  ['sv', 'sv', gen('sv.pcap', svStream())],
  ['profinet_io RT and CM (all frames)', 'profinet_io', gen('pnio-all.pcap', profinetIoSession())],
];
const l2rows: string[] = [
  '| protocol | frames per round | ns per message, link decode included (median of 5) |',
  '| --- | --- | --- |',
];
for (const [label, protocol, file] of l2) {
  const frames = framesOf(file);
  const repeat = Math.max(1, Math.ceil(200_000 / frames.length));
  l2Round(frames, protocol, Math.ceil(repeat / 4)); // warm-up
  const times = Array.from({ length: 5 }, () => l2Round(frames, protocol, repeat)).sort(
    (a, b) => a - b,
  );
  l2rows.push(`| ${label} | ${frames.length} × ${repeat} | ${times[2]!.toFixed(0)} |`);
}
rmSync(tmp, { recursive: true, force: true });
console.log('');
console.log(l2rows.join('\n'));
