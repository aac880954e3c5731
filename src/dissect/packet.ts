/**
 * Decoded link/network/transport view of one frame. The decoder reuses one Packet object per pipeline;
 * copy what you keep.
 */
export interface Packet {
  frame: number;
  ts: number;
  /** MAC addresses as lowercase colon strings ('' when the link has none, e.g. raw IP). */
  srcMac: string;
  dstMac: string;
  /** Outermost VLAN id, or -1. */
  vlan: number;
  /** EtherType of the payload after VLAN tags (0 when unknown, e.g. raw IP decoded by version nibble). */
  etherType: number;
  /** 4 or 6 for IP packets, 0 otherwise. */
  ipVersion: 0 | 4 | 6;
  /** IP addresses as text ('' when not IP). */
  srcIp: string;
  dstIp: string;
  /** IPv4 addresses as unsigned 32-bit numbers (0 for IPv6/non-IP) — cheap keys for hot maps. */
  srcIp4: number;
  dstIp4: number;
  ttl: number;
  /** IP protocol number (6 TCP, 17 UDP, ...), or -1 for non-IP. */
  ipProto: number;
  /** True when this is a non-first IP fragment (no transport header). */
  fragment: boolean;
  srcPort: number;
  dstPort: number;
  /** TCP fields (0 for UDP). */
  tcpSeq: number;
  tcpAck: number;
  tcpFlags: number;
  /** Payload (L7 for TCP/UDP, L3 payload for non-IP ethertypes): data[payloadOffset, payloadOffset+payloadLength). */
  data: Uint8Array;
  payloadOffset: number;
  payloadLength: number;
  /** Wire length of the frame. */
  wireLen: number;
  /** Decoding problem for this frame (truncated header, bad IHL…), or null. */
  anomaly: string | null;
}

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
} as const;

export function newPacket(): Packet {
  return {
    frame: 0,
    ts: 0,
    srcMac: '',
    dstMac: '',
    vlan: -1,
    etherType: 0,
    ipVersion: 0,
    srcIp: '',
    dstIp: '',
    srcIp4: 0,
    dstIp4: 0,
    ttl: 0,
    ipProto: -1,
    fragment: false,
    srcPort: 0,
    dstPort: 0,
    tcpSeq: 0,
    tcpAck: 0,
    tcpFlags: 0,
    data: new Uint8Array(0),
    payloadOffset: 0,
    payloadLength: 0,
    wireLen: 0,
    anomaly: null,
  };
}
