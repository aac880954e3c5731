import type { Message } from '../dissect/message.js';
import { newPacket } from '../dissect/packet.js';
import { ipv4Number } from './address-scope.js';
import type { AssetBookData, HostFacts } from './asset-book.js';
import { isHostText } from './asset-book.js';
import type { Inventory } from './inventory.js';

/** Across files of one run: once an address no packet can come from is an asset, books cannot say what it received. */
export interface MergeState {
  oddAsset: boolean;
}

interface Event {
  f: number;
  ts: number;
  mac: string;
  h: Merged;
}

/** One address's facts from every shard. */
interface Merged {
  ip: string;
  v4: boolean;
  parts: HostFacts[];
}

const EXISTED = -2,
  UNKNOWN = -1;

/**
 * The asset half of one capture file from the shards' books (src/discover/asset-book.ts) and the messages it
 * reads (in frame order), folded into `inv` exactly as one thread's Inventory would have folded the packets
 * and messages. Each address's packets sent are replayed in frame order only where they change something:
 * its first (creation, admission under max_assets, first seen), the first of each source MAC (MAC bindings,
 * gateway recognition), the last (last seen) and the last with a MAC (the MAC now); each message between
 * them at its frame, after that frame's packet. Counters are added up; what an asset received counts from the
 * frame that created it (a packet: that frame on; a message: after it). Returns false where the books cannot
 * give one thread's result (a book's bound reached, max_assets or the MAC table's bound reached, an address no
 * packet comes from made an asset):
 * the caller must then run the file the other way, and `inv` is no longer usable.
 */
export function mergeAssetBooks(
  inv: Inventory,
  books: AssetBookData[],
  messages: readonly Message[],
  state: MergeState,
): boolean {
  if (state.oddAsset) return false;
  const byIp = new Map<string, Merged>();
  for (const b of books) {
    if (b.overflow) return false;
    for (const h of b.hosts) {
      let m = byIp.get(h.ip);
      if (m === undefined) {
        m = { ip: h.ip, v4: ipv4Number(h.ip) >= 0, parts: [] };
        byIp.set(h.ip, m);
      }
      m.parts.push(h);
    }
  }
  // The packet events worth replaying, each address's latest last-event and MAC-event across shards.
  const events: Event[] = [];
  for (const m of byIp.values()) {
    let last: HostFacts | null = null,
      lastMac: HostFacts | null = null;
    const seen = new Set<number>();
    const add = (f: number, ts: number, mac: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      events.push({ f, ts, mac, h: m });
    };
    for (const h of m.parts) {
      if (h.first < 0) continue;
      add(h.first, h.firstTs, h.firstMac);
      const macs = h.macs;
      if (macs !== null)
        for (let i = 0; i < macs.length; i += 3)
          add(macs[i + 1] as number, macs[i + 2] as number, macs[i] as string);
      if (last === null || h.last > last.last) last = h;
      if (h.macAt >= 0 && (lastMac === null || h.macAt > lastMac.macAt)) lastMac = h;
    }
    if (last !== null) add(last.last, last.lastTs, last.lastMac);
    if (lastMac !== null) add(lastMac.macAt, lastMac.macTs, lastMac.mac);
  }
  events.sort((a, b) => a.f - b.f);

  // Creation of each address in this file: the frame (packet: counted from it; message: after it), EXISTED
  // when it was an asset before the file, UNKNOWN while it is not one.
  const created = new Map<string, number>();
  const byMessage = new Set<string>();
  const watch = (ip: string): void => {
    if (ip === '' || created.has(ip)) return;
    created.set(ip, inv.hasAssetAt(ip) ? EXISTED : UNKNOWN);
  };
  const settle = (ip: string, f: number, message: boolean): boolean => {
    if (created.get(ip) !== UNKNOWN || !inv.hasAssetAt(ip)) return true;
    created.set(ip, f);
    if (message) byMessage.add(ip);
    return !message || isHostText(ip);
  };

  const macsCapped = inv.capped.macs_not_tracked ?? 0,
    assetsCapped = inv.capped.assets_not_tracked ?? 0;
  const pkt = newPacket();
  let mi = 0;
  const replayMessage = (m: Message): boolean => {
    const id = m.identity;
    watch(m.srcIp);
    watch(m.dstIp);
    if (id?.ip !== undefined) watch(id.ip);
    inv.onAssetMessage(m);
    return (
      settle(m.srcIp, m.frame, true) &&
      settle(m.dstIp, m.frame, true) &&
      (id?.ip === undefined || settle(id.ip, m.frame, true))
    );
  };
  for (const e of events) {
    while (mi < messages.length && messages[mi]!.frame < e.f)
      if (!replayMessage(messages[mi++]!)) return odd(state);
    const h = e.h;
    watch(h.ip);
    pkt.ipVersion = h.v4 ? 4 : 6;
    pkt.srcIp = h.ip;
    pkt.srcIp4 = h.v4 ? ipv4Number(h.ip) : 0;
    pkt.srcMac = e.mac;
    pkt.ts = e.ts;
    pkt.frame = e.f;
    // Refused (max_assets reached): one thread counts each of its packets, and its edges are not started,
    // which the shards (keeping edges for every sender) cannot know.
    if (!inv.replaySource(pkt)) return false;
    settle(h.ip, e.f, false);
  }
  while (mi < messages.length) if (!replayMessage(messages[mi++]!)) return odd(state);
  // A MAC table refusal is counted per change of an address's MAC, which the replay does not repeat; an
  // asset refused by a message leaves the same doubt about its edges.
  if (
    (inv.capped.macs_not_tracked ?? 0) !== macsCapped ||
    (inv.capped.assets_not_tracked ?? 0) !== assetsCapped
  )
    return false;

  for (const m of byIp.values()) {
    watch(m.ip);
    const c = created.get(m.ip)!;
    if (c === UNKNOWN) continue;
    const fromMessage = byMessage.has(m.ip);
    let sent = 0,
      bytesSent = 0,
      recv = 0,
      bytesRecv = 0;
    for (const h of m.parts) {
      sent += h.sent;
      bytesSent += h.bytesSent;
      recv += h.recv;
      bytesRecv += h.bytesRecv;
      const p = h.pending;
      if (p === null) continue;
      for (let i = 0; i < p.length; i += 2) {
        const f = p[i]!;
        if (c === EXISTED || f > c || (f === c && !fromMessage)) {
          recv++;
          bytesRecv += p[i + 1]!;
        }
      }
    }
    inv.addPacketCounts(m.ip, sent, bytesSent, recv, bytesRecv);
  }
  return true;
}

function odd(state: MergeState): boolean {
  state.oddAsset = true;
  return false;
}
