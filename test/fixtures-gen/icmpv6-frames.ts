// IPv6 link housekeeping as a host joining a link sends it (RFC 4861 neighbour discovery, RFC 4862 duplicate
// address detection, RFC 3810 MLDv2), crafted from the RFCs: no capture of it exists here.
import { ethernet, mac } from './pcap-writer.js';

function ip6(s: string): Buffer {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const words = (x: string | undefined) => (x ? x.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head),
    t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/** Ethernet multicast MAC of an IPv6 group (33:33 + low 32 bits). */
function groupMac(dst: string): string {
  const b = ip6(dst);
  return `33:33:${[...b.subarray(12)].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

/** An ICMPv6 message in an IPv6 packet (hop limit 255 as ND requires); MLD goes behind a router-alert hop-by-hop header. */
export function icmpv6(
  srcMac: string,
  src: string,
  dst: string,
  type: number,
  body: Buffer,
  dstMac = dst.startsWith('ff') ? groupMac(dst) : '02:00:00:00:00:ff',
): Buffer {
  const icmp = Buffer.concat([Buffer.from([type, 0, 0, 0]), body]);
  const mld = type === 130 || type === 131 || type === 132 || type === 143;
  const hbh = mld ? Buffer.from([58, 0, 5, 2, 0, 0, 1, 0]) : Buffer.alloc(0);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(hbh.length + icmp.length, 4);
  h[6] = mld ? 0 : 58;
  h[7] = mld ? 1 : 255;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return ethernet(dstMac, srcMac, 0x86dd, Buffer.concat([h, hbh, icmp]));
}

/** Solicited-node multicast group of an address (ff02::1:ffXX:XXXX). */
export function solicitedNode(addr: string): string {
  const b = ip6(addr);
  return `ff02::1:ff${b[13]!.toString(16).padStart(2, '0')}:${b.readUInt16BE(14).toString(16)}`;
}

/** What a host sends when it brings up link-local `addr`: MLD join, DAD, router solicitation, then resolution of a peer. */
export function joinLink(
  hostMac: string,
  addr: string,
  routerMac: string,
  router: string,
  peerMac: string,
  peer: string,
): Buffer[] {
  const target = (a: string) => Buffer.concat([Buffer.alloc(4), ip6(a)]);
  const lla = (m: string) => Buffer.concat([Buffer.from([1, 1]), mac(m)]);
  const mldReport = Buffer.concat([
    Buffer.from([0, 0, 0, 1, 4, 0, 0, 0]),
    ip6(solicitedNode(addr)),
  ]);
  return [
    icmpv6(hostMac, '::', 'ff02::16', 143, mldReport),
    icmpv6(hostMac, '::', solicitedNode(addr), 135, target(addr)), // DAD: who else has my tentative address?
    icmpv6(hostMac, addr, 'ff02::2', 133, Buffer.concat([Buffer.alloc(4), lla(hostMac)])),
    icmpv6(
      routerMac,
      router,
      'ff02::1',
      134,
      Buffer.concat([Buffer.from([64, 0, 0x07, 0x08]), Buffer.alloc(8), lla(routerMac)]),
    ),
    icmpv6(hostMac, addr, solicitedNode(peer), 135, Buffer.concat([target(peer), lla(hostMac)])),
    icmpv6(
      peerMac,
      peer,
      addr,
      136,
      Buffer.concat([Buffer.from([0x60, 0, 0, 0]), ip6(peer), Buffer.from([2, 1]), mac(peerMac)]),
      hostMac,
    ),
  ];
}

/** An ICMPv6 echo request: not housekeeping, a real (if harmless) conversation. */
export function echo6(srcMac: string, src: string, dstMac: string, dst: string): Buffer {
  return icmpv6(srcMac, src, dst, 128, Buffer.from([0, 1, 0, 1, 0x77, 0x65, 0x69, 0x72]), dstMac);
}
