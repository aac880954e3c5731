// Builders for packets and messages as the dissect pipeline would produce them, for detector unit tests.
import { newPacket, TcpFlag, type Packet } from '../../src/dissect/packet.js';
import { newMessage, type Message, type PduContext, type ProtocolName } from '../../src/dissect/message.js';

let frame = 0;

export function ip4(s: string): number {
  return s.split('.').reduce((n, x) => n * 256 + Number(x), 0);
}

export function tcp(ts: number, src: string, sport: number, dst: string, dport: number, flags: number = TcpFlag.ACK | TcpFlag.PSH, len = 12): Packet {
  const p = newPacket();
  p.frame = ++frame; p.ts = ts; p.ipVersion = 4; p.ipProto = 6; p.srcIp = src; p.dstIp = dst;
  p.srcIp4 = ip4(src); p.dstIp4 = ip4(dst); p.srcPort = sport; p.dstPort = dport; p.tcpFlags = flags;
  p.srcMac = '02:00:00:00:00:' + src.split('.')[3]!.padStart(2, '0').slice(-2);
  p.payloadLength = len; p.wireLen = 54 + len; p.etherType = 0x0800;
  return p;
}

export function udp(ts: number, src: string, sport: number, dst: string, dport: number): Packet {
  const p = tcp(ts, src, sport, dst, dport, 0);
  p.ipProto = 17;
  return p;
}

export function msg(pkt: Packet, protocol: ProtocolName, set: Partial<Message>): Message {
  const ctx: PduContext = {
    frame: pkt.frame, ts: pkt.ts, transport: pkt.ipProto === 17 ? 'udp' : 'tcp', srcMac: pkt.srcMac, dstMac: pkt.dstMac,
    srcIp: pkt.srcIp, dstIp: pkt.dstIp, srcPort: pkt.srcPort, dstPort: pkt.dstPort,
  };
  return Object.assign(newMessage(ctx, protocol), set);
}

/** A sink that feeds a packet and its messages to hooks, as the pipeline does. */
export function feed(h: { onPacket(p: Packet): void; onMessage(m: Message): void }, pkt: Packet, ...ms: Message[]): void {
  h.onPacket(pkt);
  for (const m of ms) h.onMessage(m);
}
