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
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

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
}

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

const cases: [string, string][] = [
  ['modbus', path.join(root, 'fixtures/plant.pcap')],
  ['s7comm', path.join(root, 'fixtures/plant.pcap')],
  ['opcua', path.join(root, 'fixtures/opcua-session.pcap')],
  ['hartip', hartFile],
  ['fins', path.join(root, 'fixtures/fins-session.pcap')],
  ['slmp', slmpFile],
];
const rows: string[] = [
  '| protocol | PDUs per round | ns per PDU (median of 5) |',
  '| --- | --- | --- |',
];
for (const [protocol, file] of cases) {
  const pdus = payloads(file, protocol);
  const repeat = Math.max(1, Math.ceil(200_000 / Math.max(1, pdus.length)));
  round(protocol, pdus, Math.ceil(repeat / 4)); // warm-up
  const times = Array.from({ length: 5 }, () => round(protocol, pdus, repeat)).sort(
    (a, b) => a - b,
  );
  rows.push(`| ${protocol} | ${pdus.length} × ${repeat} | ${times[2]!.toFixed(0)} |`);
}
rmSync(tmp, { recursive: true, force: true });
console.log(rows.join('\n'));
