import { readFileSync } from 'node:fs';
import type { Packet } from '../dissect/packet.js';
import type { Frame } from '../capture/frame.js';
import type { Message } from '../dissect/message.js';
import { PROTOCOLS } from '../dissect/registry.js';

/**
 * Sharding key of a decoded frame: a hash of its unordered IP address pair, so both directions of a
 * conversation, its TCP streams and every edge between the two hosts land on one shard (src/discover/
 * shard-index.ts routes by it). Frames that are not IP (ARP, LLDP, GOOSE, DCP) all go to shard 0: their
 * messages are about assets, which the main thread keeps, and layer-2 dissection keeps no per-flow state worth
 * spreading. This is the hash for IP packets (IPv4 or text addresses).
 */
export function pairHash(pkt: Packet): number {
  if (pkt.ipVersion === 4) return pairHash4(pkt.srcIp4, pkt.dstIp4);
  const a = pkt.srcIp,
    b = pkt.dstIp;
  return mix(textHash(a < b ? a : b) ^ Math.imul(textHash(a < b ? b : a), 0x9e3779b1));
}

/** A 32-bit hash of an unordered IPv4 address pair. */
export function pairHash4(a: number, b: number): number {
  const lo = a < b ? a : b,
    hi = a < b ? b : a;
  return mix(Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b));
}

function mix(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * The header fields a shard worker needs of a frame that is not its own, read straight from the bytes for
 * the common case (Ethernet, no VLAN tag, a whole IPv4 header), exactly as decodeFrame reads them; `parse`
 * returns false for anything else, which then takes decodeFrame. Saves each worker decoding every frame.
 */
export class RawIpv4 {
  src = 0;
  dst = 0;
  proto = 0;
  fragment = false;
  srcPort = 0;
  dstPort = 0;

  parse(f: Frame): boolean {
    if (f.linkType !== 1) return false;
    const b = f.data,
      end = f.offset + f.capLen;
    const o = f.offset + 14;
    if (end - o < 20 || b[o - 2] !== 0x08 || b[o - 1] !== 0x00) return false;
    const vihl = b[o]!;
    const ihl = (vihl & 15) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || end - o < ihl) return false;
    const total = (b[o + 2]! << 8) | b[o + 3]!;
    const ipEnd = total >= ihl && o + total < end ? o + total : end;
    this.src = ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0;
    this.dst = ((b[o + 16]! << 24) | (b[o + 17]! << 16) | (b[o + 18]! << 8) | b[o + 19]!) >>> 0;
    const proto = (this.proto = b[o + 9]!);
    this.fragment = (((b[o + 6]! << 8) | b[o + 7]!) & 0x1fff) !== 0;
    this.srcPort = 0;
    this.dstPort = 0;
    const t = o + ihl;
    if (this.fragment) return true;
    if (proto === 6) {
      const doff = end - t >= 20 ? (b[t + 12]! >> 4) * 4 : 0;
      if (ipEnd - t < 20 || doff < 20 || ipEnd - t < doff) return true;
    } else if (proto !== 17 || ipEnd - t < 8) return true;
    this.srcPort = (b[t]! << 8) | b[t + 1]!;
    this.dstPort = (b[t + 2]! << 8) | b[t + 3]!;
    return true;
  }

  /** Sent by a host (not unspecified, broadcast or multicast), as the inventory counts senders. */
  get fromHost(): boolean {
    const a = this.src;
    return a !== 0 && a !== 0xffffffff && a >>> 28 !== 0xe;
  }
}

function textHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * CPU seconds (user + system) of the calling thread so far, from Linux's /proc/thread-self; -1 where that
 * is not readable. What a worker cost, whatever else the machine runs.
 */
export function threadCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime), counted from the state field (3): indexes 11 and 12 here.
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return -1;
  }
}

/** A copy of a message the pipeline will reuse (field by field: far cheaper than structuredClone). */
export function copyMessage(m: Message): Message {
  return copyOf(m, true);
}

/** Protocols whose requests may ask a controller for a mode (requestedMode reads their fields). */
const MODE_PROTOCOLS: ReadonlySet<string> = new Set(
  PROTOCOLS.filter((p) => p.requestedMode !== undefined).map((p) => p.name),
);

/** Whether the asset half reads no more of the message than copyAssetMessage keeps. */
export function slimForAssets(m: Message): boolean {
  return m.role !== 'request' || !MODE_PROTOCOLS.has(m.protocol);
}

/**
 * A copy of a message for the asset half of the inventory (Inventory.onAssetMessage), which reads its
 * addresses, time, frame, function, transaction, exception and identity, and a request's fields only where the
 * protocol names controller modes (slimForAssets tells which: those take copyMessage). The rest (fields, targets, values) stays behind: most of what the workers
 * hand back are BACnet I-Ams and errors, and copying and cloning their field objects cost more than the rest.
 */
export function copyAssetMessage(m: Message): Message {
  return copyOf(m, false);
}

/** The two copies in one literal (one object shape for both); `full` keeps fields, targets, values and anomaly. */
function copyOf(m: Message, full: boolean): Message {
  return {
    frame: m.frame,
    ts: m.ts,
    protocol: m.protocol,
    transport: m.transport,
    srcMac: m.srcMac,
    dstMac: m.dstMac,
    srcIp: m.srcIp,
    dstIp: m.dstIp,
    srcPort: m.srcPort,
    dstPort: m.dstPort,
    role: m.role,
    func: m.func,
    funcName: m.funcName,
    subfunc: m.subfunc,
    unit: m.unit,
    txId: m.txId,
    exception: m.exception,
    write: m.write,
    targets: !full || m.targets === null ? null : m.targets.map((t) => ({ ...t })),
    values: !full || m.values === null ? null : m.values.slice(),
    identity: m.identity === null ? null : { ...m.identity },
    anomaly: !full || m.anomaly === null ? null : { ...m.anomaly },
    fields: !full || m.fields === null ? null : { ...m.fields },
  };
}
