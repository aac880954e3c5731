import type { Packet } from '../dissect/packet.js';

/**
 * ICMPv6 types that keep an IPv6 link working: MLD query/report/done (130-132) and MLDv2 report (143),
 * router solicitation/advertisement (133/134), neighbour solicitation/advertisement (135/136, including
 * duplicate address detection from ::) and redirect (137). Every IPv6 host sends them on its own; they say
 * nothing about who talks to whom, so they are not conversations, protocols or scans.
 */
const HOUSEKEEPING = new Uint8Array(256);
for (const t of [130, 131, 132, 133, 134, 135, 136, 137, 143]) HOUSEKEEPING[t] = 1;

/** Is this packet IPv6 link housekeeping (see HOUSEKEEPING)? */
export function isLinkHousekeeping(pkt: Packet): boolean {
  return (
    pkt.ipProto === 58 &&
    pkt.ipVersion === 6 &&
    pkt.payloadLength > 0 &&
    HOUSEKEEPING[pkt.data[pkt.payloadOffset]!] === 1
  );
}

/** fe80::/10: an address that only means something on its link, so the MAC behind it names the device. */
export function isLinkLocal6(ip: string): boolean {
  return (
    ip.length > 4 &&
    ip.charCodeAt(0) === 0x66 &&
    ip.charCodeAt(1) === 0x65 &&
    (ip[2] === '8' || ip[2] === '9' || ip[2] === 'a' || ip[2] === 'b')
  );
}

const IP_PROTOCOL_NAMES: Record<number, string> = {
  1: 'ICMP',
  2: 'IGMP',
  47: 'GRE',
  50: 'ESP',
  58: 'ICMPv6',
  89: 'OSPF',
  112: 'VRRP',
};
const ICMP_TYPES: Record<number, string> = {
  0: 'echo reply',
  3: 'destination unreachable',
  5: 'redirect',
  8: 'echo request',
  11: 'time exceeded',
  13: 'timestamp request',
  17: 'address mask request',
};
const ICMPV6_TYPES: Record<number, string> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
};

/** How an IP protocol without ports reads to a person: 'ICMPv6 echo request', 'GRE', 'IP protocol 253'. */
export function ipProtocolLabel(pkt: Packet): { name: string; label: string } {
  const name = IP_PROTOCOL_NAMES[pkt.ipProto];
  if (name === undefined) return { name: 'ip', label: `IP protocol ${pkt.ipProto}` };
  const types = pkt.ipProto === 1 ? ICMP_TYPES : pkt.ipProto === 58 ? ICMPV6_TYPES : null;
  const t = types !== null && pkt.payloadLength > 0 ? pkt.data[pkt.payloadOffset]! : -1;
  const kind = types === null || t < 0 ? undefined : (types[t] ?? `type ${t}`);
  return { name: name.toLowerCase(), label: kind === undefined ? name : `${name} ${kind}` };
}
