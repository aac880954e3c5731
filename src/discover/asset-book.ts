import type { Packet } from '../dissect/packet.js';
import { U32Cache } from '../dissect/u32-cache.js';

/**
 * What one shard saw of one address in one capture file, for the asset half of the inventory (merged on the
 * main thread by src/discover/asset-merge.ts). Plain data: it travels to the main thread by structured clone.
 *
 * The inventory's packet facts depend on frame order across address pairs, and pairs live on different
 * shards, so each is kept with its frame: the first packet sent (creation, first seen), the first frame of
 * each source MAC (the MAC-behind-an-address bindings, gateway recognition), the last packet sent and the last
 * one with a MAC (last seen, the MAC now), sums for the counters, and what it received before this shard saw
 * it send (counted only from the frame that created the asset, which another shard or a message may hold).
 */
export interface HostFacts {
  ip: string;
  /** Packets sent: first frame (-1: none), its time and source MAC. */
  first: number;
  firstTs: number;
  firstMac: string;
  /** Last frame sent, its time and source MAC. */
  last: number;
  lastTs: number;
  lastMac: string;
  /** Last frame sent with a source MAC (-1: none), its time and MAC. */
  macAt: number;
  macTs: number;
  mac: string;
  /** Every other source MAC, with the first frame and time it was seen: mac, frame, ts, mac, frame, ts… */
  macs: (string | number)[] | null;
  sent: number;
  bytesSent: number;
  /** Received from this shard's first frame sent on (already counted by the asset, whoever created it). */
  recv: number;
  bytesRecv: number;
  /** Received before that: frame, length, frame, length… (counted from the asset's creation on). */
  pending: number[] | null;
}

/** One shard's facts of one file; `overflow` when a bound below was reached (the merge then gives up). */
export interface AssetBookData {
  hosts: HostFacts[];
  overflow: boolean;
}

/** Received frames held before their address sent on this shard, at most (then the book gives up). */
export const MAX_PENDING = 1 << 22;

/**
 * A shard's asset facts of the current file. Bounded: at most `maxHosts` addresses, MAX_PENDING held
 * receptions and `maxHosts` extra source MACs; beyond any of them the book stops and says so (overflow), and
 * the caller falls back to a pass that keeps the asset half in one place (a flood of spoofed senders, MACs or
 * one-way traffic to silent hosts costs that fallback, never a different result).
 */
export class AssetBook {
  private readonly v4 = new Map<number, HostFacts>();
  private readonly recent = new U32Cache<HostFacts>(14);
  private readonly text = new Map<string, HostFacts>();
  private hosts: HostFacts[] = [];
  private pendingLeft = MAX_PENDING;
  private macsLeft: number;
  private overflow = false;

  constructor(private readonly maxHosts: number) {
    this.macsLeft = maxHosts;
  }

  /**
   * A packet sent by a host address (the caller checks: IP, isHostAddress), as Inventory.onPacket counts
   * it, fragments too.
   */
  onPacket(p: Packet): void {
    if (this.overflow) return;
    const f = p.frame,
      ts = p.ts,
      len = p.wireLen,
      mac = p.srcMac;
    const s = p.ipVersion === 4 ? this.at4(p.srcIp4, p.srcIp) : this.atText(p.srcIp);
    const d = p.ipVersion === 4 ? this.dst4(p.dstIp4, p.dstIp) : this.dstText(p.dstIp);
    if (s === undefined || d === undefined) return this.stop();
    if (s.first < 0) {
      s.first = f;
      s.firstTs = ts;
      s.firstMac = mac;
    } else if (mac !== '' && mac !== s.mac && mac !== s.firstMac && !this.knownMac(s, mac)) {
      if (--this.macsLeft < 0) return this.stop();
      (s.macs ??= []).push(mac, f, ts);
    }
    s.last = f;
    s.lastTs = ts;
    s.lastMac = mac;
    if (mac !== '') {
      s.macAt = f;
      s.macTs = ts;
      s.mac = mac;
    }
    s.sent++;
    s.bytesSent += len;
    // Unspecified, broadcast and multicast addresses never send (so never become assets by a packet); the
    // merge gives up if a message made one an asset.
    if (d === null) return;
    if (d.first >= 0) {
      d.recv++;
      d.bytesRecv += len;
    } else {
      if (--this.pendingLeft < 0) return this.stop();
      (d.pending ??= []).push(f, len);
    }
  }

  /** The file's facts; the book starts empty for the next file. */
  take(): AssetBookData {
    const out = { hosts: this.hosts, overflow: this.overflow };
    this.v4.clear();
    this.recent.clear();
    this.text.clear();
    this.hosts = [];
    this.pendingLeft = MAX_PENDING;
    this.macsLeft = this.maxHosts;
    this.overflow = false;
    return out;
  }

  private stop(): void {
    this.overflow = true;
  }

  private knownMac(s: HostFacts, mac: string): boolean {
    const m = s.macs;
    if (m === null) return false;
    for (let i = 0; i < m.length; i += 3) if (m[i] === mac) return true;
    return false;
  }

  private at4(n: number, ip: string): HostFacts | undefined {
    let h = this.recent.get(n);
    if (h !== undefined) return h;
    h = this.v4.get(n);
    if (h === undefined) {
      h = this.add(ip);
      if (h === undefined) return undefined;
      this.v4.set(n, h);
    }
    this.recent.set(n, h);
    return h;
  }

  private atText(ip: string): HostFacts | undefined {
    let h = this.text.get(ip);
    if (h === undefined) {
      h = this.add(ip);
      if (h !== undefined) this.text.set(ip, h);
    }
    return h;
  }

  /** A destination's facts; null for an address that is not a host's (never an asset by a packet). */
  private dst4(n: number, ip: string): HostFacts | null | undefined {
    if (n === 0 || n === 0xffffffff || n >>> 28 === 0xe) return null;
    return this.at4(n, ip);
  }

  private dstText(ip: string): HostFacts | null | undefined {
    if (ip === '::' || ip.startsWith('ff')) return null;
    return this.atText(ip);
  }

  private add(ip: string): HostFacts | undefined {
    if (this.hosts.length >= this.maxHosts) return undefined;
    const h: HostFacts = {
      ip,
      first: -1,
      firstTs: 0,
      firstMac: '',
      last: -1,
      lastTs: 0,
      lastMac: '',
      macAt: -1,
      macTs: 0,
      mac: '',
      macs: null,
      sent: 0,
      bytesSent: 0,
      recv: 0,
      bytesRecv: 0,
      pending: null,
    };
    this.hosts.push(h);
    return h;
  }
}

/** Whether an address could be a packet's sender as the inventory counts senders (isHostAddress's rule). */
export function isHostText(ip: string): boolean {
  if (ip.includes(':')) return ip !== '::' && !ip.startsWith('ff');
  return ip !== '0.0.0.0' && ip !== '255.255.255.255' && !/^(22[4-9]|23\d)\./.test(ip);
}
