import type { Frame } from '../capture/frame.js';
import { LinkType } from '../capture/frame.js';
import type { Packet } from './packet.js';
import { ipv4String, ipv6String, macString } from './bytes.js';
import { llcType } from './link-dissector.js';
import { U32Cache } from './u32-cache.js';

// Text forms are cached: a plant has few addresses and every packet repeats them.
const ip4Text = new Map<number, string>();
const macText = new Map<number, string>();
// Large enough for a 100,000-device plant: past the limit the cache is cleared, and every edge and asset
// would then hold its own copy of the same text.
const CACHE_LIMIT = 1 << 17;
// In front of the maps, direct-mapped: a hit allocates nothing (a map lookup by an address above 2^30 or a
// 48-bit MAC boxes the key into a heap number on every packet).
const ip4Recent = new U32Cache<string>(12);
const MAC_SLOTS = 1 << 10;
const macHi = new Int32Array(MAC_SLOTS);
const macLo = new Int32Array(MAC_SLOTS);
const macRecent: (string | undefined)[] = new Array<string | undefined>(MAC_SLOTS).fill(undefined);

function ip4(n: number): string {
  let s = ip4Recent.get(n);
  if (s !== undefined) return s;
  s = ip4Text.get(n);
  if (s === undefined) {
    s = ipv4String(n);
    if (ip4Text.size >= CACHE_LIMIT) ip4Text.clear();
    ip4Text.set(n, s);
  }
  ip4Recent.set(n, s);
  return s;
}

function mac(b: Uint8Array, o: number): string {
  const hi = (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!,
    lo = (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!;
  const i = (Math.imul(hi ^ Math.imul(lo, 0x85ebca6b), 0x9e3779b1) >>> 22) & (MAC_SLOTS - 1);
  const recent = macRecent[i];
  if (recent !== undefined && macHi[i] === hi && macLo[i] === lo) return recent;
  const key = hi * 16777216 + lo;
  let s = macText.get(key);
  if (s === undefined) {
    s = macString(b, o);
    if (macText.size >= CACHE_LIMIT) macText.clear();
    macText.set(key, s);
  }
  macHi[i] = hi;
  macLo[i] = lo;
  macRecent[i] = s;
  return s;
}

/**
 * Decode link, network and transport headers of a frame into the reused Packet. Never throws: a truncated or
 * malformed header sets `pkt.anomaly` and leaves what could not be decoded at its neutral value.
 * Returns true when an IP packet was decoded.
 */
export function decodeFrame(f: Frame, pkt: Packet): boolean {
  const b = f.data;
  const end = f.offset + f.capLen;
  pkt.frame = f.index;
  pkt.ts = f.ts;
  pkt.wireLen = f.origLen;
  pkt.srcMac = '';
  pkt.dstMac = '';
  pkt.vlan = -1;
  pkt.etherType = 0;
  pkt.ipVersion = 0;
  pkt.srcIp = '';
  pkt.dstIp = '';
  pkt.srcIp4 = 0;
  pkt.dstIp4 = 0;
  pkt.ttl = 0;
  pkt.ipProto = -1;
  pkt.fragment = false;
  pkt.srcPort = 0;
  pkt.dstPort = 0;
  pkt.tcpSeq = 0;
  pkt.tcpAck = 0;
  pkt.tcpFlags = 0;
  pkt.data = b;
  pkt.payloadOffset = end;
  pkt.payloadLength = 0;
  pkt.anomaly = null;
  let o = f.offset;
  let et: number;
  switch (f.linkType) {
    case LinkType.ETHERNET: {
      if (end - o < 14) return bad(pkt, 'truncated_ethernet');
      pkt.dstMac = mac(b, o);
      pkt.srcMac = mac(b, o + 6);
      et = (b[o + 12]! << 8) | b[o + 13]!;
      o += 14;
      if (et <= 1500) return llc(b, o, Math.min(end, o + et), pkt);
      break;
    }
    case LinkType.LINUX_SLL: {
      if (end - o < 16) return bad(pkt, 'truncated_sll');
      const alen = (b[o + 4]! << 8) | b[o + 5]!;
      if (alen === 6) pkt.srcMac = mac(b, o + 6);
      et = (b[o + 14]! << 8) | b[o + 15]!;
      o += 16;
      break;
    }
    case LinkType.LINUX_SLL2: {
      if (end - o < 20) return bad(pkt, 'truncated_sll2');
      et = (b[o]! << 8) | b[o + 1]!;
      if (b[o + 11] === 6) pkt.srcMac = mac(b, o + 12);
      o += 20;
      break;
    }
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
    case 12:
    case 14: {
      if (end - o < 1) return bad(pkt, 'truncated_ip');
      et = b[o]! >> 4 === 6 ? 0x86dd : 0x0800;
      break;
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (end - o < 4) return bad(pkt, 'truncated_loopback');
      const v = (b[o + 4] ?? 0) >> 4;
      et = v === 6 ? 0x86dd : v === 4 ? 0x0800 : 0;
      o += 4;
      break;
    }
    default:
      return bad(pkt, `unsupported_link_type_${f.linkType}`);
  }
  // VLAN tags (802.1Q, 802.1ad, and the old QinQ 0x9100), outermost id kept.
  while (et === 0x8100 || et === 0x88a8 || et === 0x9100) {
    if (end - o < 4) return bad(pkt, 'truncated_vlan');
    if (pkt.vlan < 0) pkt.vlan = ((b[o]! << 8) | b[o + 1]!) & 0x0fff;
    et = (b[o + 2]! << 8) | b[o + 3]!;
    o += 4;
  }
  pkt.etherType = et;
  if (et === 0x0800) return ipv4(b, o, end, pkt);
  if (et === 0x86dd) return ipv6(b, o, end, pkt);
  pkt.payloadOffset = o;
  pkt.payloadLength = end - o;
  return false;
}

/** 802.3 frame with an LLC header: SNAP carries an EtherType (or Cisco's CDP PID under OUI 00000c). */
function llc(b: Uint8Array, o: number, end: number, pkt: Packet): boolean {
  if (end - o >= 8 && b[o] === 0xaa && b[o + 1] === 0xaa && b[o + 2] === 0x03) {
    const oui = (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!;
    const pid = (b[o + 6]! << 8) | b[o + 7]!;
    pkt.etherType = oui === 0 ? pid : oui * 65536 + pid;
    pkt.payloadOffset = o + 8;
    pkt.payloadLength = end - o - 8;
    if (oui === 0 && pid === 0x0800) return ipv4(b, o + 8, end, pkt);
    return false;
  }
  if (end - o >= 3) {
    // Plain LLC (e.g. BACnet/Ethernet, STP): report DSAP/SSAP; payload after the control field (U-format).
    pkt.etherType = llcType(b[o]!, b[o + 1]!);
    const ctl = (b[o + 2]! & 3) === 3 ? 1 : 2;
    pkt.payloadOffset = o + 2 + ctl;
    pkt.payloadLength = Math.max(0, end - o - 2 - ctl);
    return false;
  }
  pkt.payloadOffset = o;
  pkt.payloadLength = Math.max(0, end - o);
  return false;
}

function ipv4(b: Uint8Array, o: number, end: number, pkt: Packet): boolean {
  if (end - o < 20) return bad(pkt, 'truncated_ipv4');
  const vihl = b[o]!;
  const ihl = (vihl & 15) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return bad(pkt, 'bad_ipv4_header');
  if (end - o < ihl) return bad(pkt, 'truncated_ipv4');
  const total = (b[o + 2]! << 8) | b[o + 3]!;
  // Trim Ethernet padding; a total length beyond the capture is snap-length truncation (keep what we have).
  let ipEnd = end;
  if (total >= ihl && o + total < end) ipEnd = o + total;
  else if (total < ihl) pkt.anomaly = 'bad_ipv4_total_length';
  const src = ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0;
  const dst = ((b[o + 16]! << 24) | (b[o + 17]! << 16) | (b[o + 18]! << 8) | b[o + 19]!) >>> 0;
  pkt.ipVersion = 4;
  pkt.srcIp4 = src;
  pkt.dstIp4 = dst;
  pkt.srcIp = ip4(src);
  pkt.dstIp = ip4(dst);
  pkt.ttl = b[o + 8]!;
  pkt.ipProto = b[o + 9]!;
  const frag = ((b[o + 6]! << 8) | b[o + 7]!) & 0x1fff;
  if (frag !== 0) {
    pkt.fragment = true;
    pkt.payloadOffset = o + ihl;
    pkt.payloadLength = ipEnd - o - ihl;
    return true;
  }
  transport(b, o + ihl, ipEnd, pkt);
  return true;
}

function ipv6(b: Uint8Array, o: number, end: number, pkt: Packet): boolean {
  if (end - o < 40) return bad(pkt, 'truncated_ipv6');
  if (b[o]! >> 4 !== 6) return bad(pkt, 'bad_ipv6_header');
  const plen = (b[o + 4]! << 8) | b[o + 5]!;
  let next = b[o + 6]!;
  pkt.ttl = b[o + 7]!;
  pkt.ipVersion = 6;
  pkt.srcIp = ipv6String(b, o + 8);
  pkt.dstIp = ipv6String(b, o + 24);
  const ipEnd = plen > 0 && o + 40 + plen < end ? o + 40 + plen : end;
  let p = o + 40;
  // Extension headers: hop-by-hop 0, routing 43, fragment 44, destination options 60.
  for (
    let guard = 0;
    guard < 8 && (next === 0 || next === 43 || next === 44 || next === 60);
    guard++
  ) {
    if (ipEnd - p < 8) return bad(pkt, 'truncated_ipv6_extension');
    if (next === 44) {
      const offset = ((b[p + 2]! << 8) | b[p + 3]!) >> 3;
      next = b[p]!;
      p += 8;
      if (offset !== 0) {
        pkt.ipProto = next;
        pkt.fragment = true;
        pkt.payloadOffset = p;
        pkt.payloadLength = ipEnd - p;
        return true;
      }
      continue;
    }
    const len = (b[p + 1]! + 1) * 8;
    next = b[p]!;
    p += len;
  }
  pkt.ipProto = next;
  if (p > ipEnd) return bad(pkt, 'truncated_ipv6_extension') || true;
  transport(b, p, ipEnd, pkt);
  return true;
}

function transport(b: Uint8Array, o: number, end: number, pkt: Packet): void {
  const proto = pkt.ipProto;
  if (proto === 6) {
    if (end - o < 20) {
      pkt.anomaly = 'truncated_tcp';
      return;
    }
    const doff = (b[o + 12]! >> 4) * 4;
    if (doff < 20 || end - o < doff) {
      pkt.anomaly = doff < 20 ? 'bad_tcp_header' : 'truncated_tcp';
      return;
    }
    pkt.srcPort = (b[o]! << 8) | b[o + 1]!;
    pkt.dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    pkt.tcpSeq = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
    pkt.tcpAck = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
    pkt.tcpFlags = b[o + 13]!;
    pkt.payloadOffset = o + doff;
    pkt.payloadLength = end - o - doff;
  } else if (proto === 17) {
    if (end - o < 8) {
      pkt.anomaly = 'truncated_udp';
      return;
    }
    pkt.srcPort = (b[o]! << 8) | b[o + 1]!;
    pkt.dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    const ulen = (b[o + 4]! << 8) | b[o + 5]!;
    const uend = ulen >= 8 && o + ulen <= end ? o + ulen : end;
    pkt.payloadOffset = o + 8;
    pkt.payloadLength = uend - o - 8;
  } else {
    pkt.payloadOffset = o;
    pkt.payloadLength = end - o;
  }
}

function bad(pkt: Packet, why: string): false {
  pkt.anomaly = why;
  return false;
}
