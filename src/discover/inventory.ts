import type { Packet } from '../dissect/packet.js';
import { functionKeyNumber, PROTOCOL_INDEX, type IdentityFacts, type Message } from '../dissect/message.js';
import type { Asset, Edge, FunctionStats, InventorySnapshot, TargetRanges } from './model.js';
import { RangeSet } from './ranges.js';
import { serviceName } from './services.js';
import { EdgeTable, type EdgeAddress } from './edge-table.js';
import { vendorOf } from './oui.js';
import { inferRoles } from './roles.js';
import { PollTimer } from './polling.js';
import { anomalyKind } from './anomaly-kind.js';

/** A MAC seen as the source of this many IPs is a router or firewall, not the hosts behind it. */
const GATEWAY_MAC_IPS = 4;

interface AssetState {
  a: Asset;
  /** Last source MAC seen for this IP (fast path: most packets repeat it). */
  lastMac: string;
  /** MAC announced by ARP/DHCP for this IP: authoritative over Ethernet headers. */
  announcedMac: string | null;
}

interface EdgeState {
  e: Edge;
  client: AssetState | undefined;
  server: AssetState | undefined;
  funcs: Map<number, FunctionStats>;
  /** space → [read ranges, written ranges] */
  targets: Map<string, [RangeSet, RangeSet]>;
  poll: PollTimer;
  /** Identity of the edge, as the edge table made it. */
  addr: EdgeAddress | null;
  /** Per-edge state of a consumer riding on this inventory's edge lookup (the detection engine). */
  slot: unknown;
}

/** The edge of the packet just seen, for consumers that share the inventory's per-packet edge lookup. */
export interface CurrentEdge {
  addr: EdgeAddress;
  toServer: boolean;
  slot: unknown;
}

/** PROTOCOL_INDEX values 1..8 are the industrial protocols. */
const LAST_ICS_INDEX = 8;
const IDENTITY_PROTOCOLS = new Set(['arp', 'dhcp', 'lldp', 'cdp', 'profinet_dcp', 'dns', 'nbns']);

/**
 * Folds packets and messages into the asset inventory and the communication map. Passive: it only counts
 * what it is shown. Hooks are synchronous and run on the capture hot path.
 */
export class Inventory {
  private readonly assets4 = new Map<number, AssetState>();
  private readonly assetsText = new Map<string, AssetState>();
  private readonly l2Assets = new Map<string, AssetState>();
  /** Source MAC → source IPs seen behind it, to recognise gateways. */
  private readonly macIps = new Map<string, Set<string>>();
  private readonly edges = new EdgeTable<EdgeState>((addr, pkt) => this.newEdge(addr, pkt.ts));
  /** Edges from a loaded snapshot not yet seen again in this run (once seen, they move to the maps above). */
  private readonly loadedEdges = new Map<string, EdgeState>();
  /** Edge of the packet being processed: its messages arrive right after it. */
  private current: EdgeState | undefined;

  onPacket(pkt: Packet): void {
    this.current = undefined;
    if (pkt.ipVersion === 0) return;
    if (!isHostAddress(pkt)) return;
    const src = this.sourceAsset(pkt);
    const dst = pkt.ipVersion === 4 ? this.assets4.get(pkt.dstIp4) : this.assetsText.get(pkt.dstIp);
    const ts = pkt.ts, len = pkt.wireLen;
    const sa = src.a;
    sa.packetsSent++; sa.bytesSent += len; sa.lastSeen = ts;
    if (dst !== undefined) { const da = dst.a; da.packetsReceived++; da.bytesReceived += len; }
    if (pkt.fragment) return;

    const e = this.edges.lookup(pkt);
    if (e.client === undefined || e.server === undefined) {
      const toServer = this.edges.toServer;
      e.client ??= toServer ? src : dst;
      e.server ??= toServer ? dst : src;
    }
    const ee = e.e;
    ee.packets++; ee.bytes += len; ee.lastSeen = ts;
    this.current = e;
  }

  /**
   * The edge of the packet passed to the last onPacket (undefined for non-IP frames), with a slot where a
   * consumer keeps its own per-edge state: one edge lookup per packet serves discovery and detection.
   */
  currentEdge(): CurrentEdge | undefined {
    const es = this.current;
    if (es === undefined || es.addr === null) return undefined;
    const c = this.cur;
    c.addr = es.addr; c.toServer = this.edges.toServer; c.slot = es.slot;
    return c;
  }

  /** Store a consumer's per-edge state on the current packet's edge. */
  setCurrentSlot(value: unknown): void {
    if (this.current !== undefined) this.current.slot = value;
  }

  private readonly cur: CurrentEdge = { addr: null as unknown as EdgeAddress, toServer: true, slot: undefined };

  onMessage(m: Message): void {
    if (m.identity !== null) this.applyIdentity(m, m.identity);
    if (m.transport === 'l2') return;
    const es = this.current;
    if (es === undefined) return;
    const e = es.e;
    if (!e.protocols.includes(m.protocol)) this.addProtocol(es, m.protocol);

    const pidx = PROTOCOL_INDEX[m.protocol] ?? 0;
    const fkey = pidx * 0x20000 + (m.func + 1);
    let f = es.funcs.get(fkey);
    if (f === undefined) {
      f = { protocol: m.protocol, func: m.func, name: m.funcName, count: 0, writes: 0, exceptions: 0 };
      es.funcs.set(fkey, f);
    }
    f.count++;
    if (m.write && m.role !== 'response') f.writes++;
    if (m.exception !== -1) f.exceptions++;
    if (m.anomaly !== null) {
      e.anomalies++;
      const kind = anomalyKind(m.protocol, m.anomaly);
      if (e.anomalyKinds.length < 16 && !e.anomalyKinds.includes(kind)) e.anomalyKinds.push(kind);
    }
    if (m.role === 'request') e.requests++;
    else if (m.role === 'response') e.responses++;

    const targets = m.targets;
    if (targets !== null) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        let pair = es.targets.get(t.space);
        if (pair === undefined) { pair = [new RangeSet(), new RangeSet()]; es.targets.set(t.space, pair); }
        pair[m.write ? 1 : 0].add(t.start, t.count);
      }
    }
    if (m.role === 'request' && pidx > 0 && pidx <= LAST_ICS_INDEX) {
      const start = targets !== null && targets.length > 0 ? targets[0]!.start : 0;
      es.poll.request((pidx * 256 + (m.func & 0xff)) * 16777216 + (start & 0xffffff), m.ts);
    }
  }

  /** The inventory as plain data, with roles inferred. */
  snapshot(): InventorySnapshot {
    const assets: Asset[] = [];
    const byId = new Map<string, Asset>();
    const byMac = new Map<string, Asset>();
    for (const s of this.assets4.values()) this.placeAsset(s, assets, byId, byMac);
    // IPv6 link-local sources are the same NICs as the IPv4 hosts: fold them in by MAC.
    for (const s of this.assetsText.values()) {
      const a = s.a;
      const twin = a.id.startsWith('fe80:') && s.lastMac !== '' ? byMac.get(s.lastMac) : undefined;
      if (twin !== undefined) {
        twin.ips.push(a.id);
        twin.packetsSent += a.packetsSent; twin.bytesSent += a.bytesSent;
        twin.packetsReceived += a.packetsReceived; twin.bytesReceived += a.bytesReceived;
        byId.set(a.id, twin);
        continue;
      }
      this.placeAsset(s, assets, byId, byMac);
    }
    for (const s of this.l2Assets.values()) {
      const twin = byMac.get(s.a.id);
      if (twin !== undefined) { mergeInto(twin, s.a); continue; }
      s.a.macVendor = vendorOf(s.a.id) ?? null;
      assets.push(s.a); byId.set(s.a.id, s.a);
    }
    const edges: Edge[] = [];
    for (const es of this.allEdges()) {
      const e = this.edgeOut(es);
      edges.push(e);
      // Who serves and who uses each industrial protocol, from the edges that carried its messages.
      for (const p of e.protocols) {
        if (IDENTITY_PROTOCOLS.has(p)) continue;
        const server = byId.get(e.server), client = byId.get(e.client);
        if (server && !server.serves.includes(p)) server.serves.push(p);
        if (client && !client.uses.includes(p)) client.uses.push(p);
      }
    }
    inferRoles(assets, edges);
    return { assets: sortByAddress(assets, (a) => [a.id]), edges: sortByAddress(edges, (e) => [e.server, e.client], (e) => e.port) };
  }

  private placeAsset(s: AssetState, assets: Asset[], byId: Map<string, Asset>, byMac: Map<string, Asset>): void {
    const a = s.a;
    a.mac = s.announcedMac ?? (s.lastMac !== '' && (this.macIps.get(s.lastMac)?.size ?? 0) < GATEWAY_MAC_IPS ? s.lastMac : a.mac);
    if (a.mac !== null) { a.macVendor = vendorOf(a.mac) ?? a.macVendor; if (!byMac.has(a.mac)) byMac.set(a.mac, a); }
    assets.push(a); byId.set(a.id, a);
  }

  /** Continue from an earlier snapshot (e.g. loaded from the store), so several captures build one inventory. */
  load(snap: InventorySnapshot): void {
    for (const a of snap.assets) {
      const s: AssetState = { a: structuredClone(a), lastMac: '', announcedMac: a.mac };
      if (a.ips.length === 0) this.l2Assets.set(a.id, s);
      else this.putAsset(a.ips[0]!, s);
    }
    for (const e of snap.edges) {
      const es: EdgeState = {
        e: { ...structuredClone(e), anomalyKinds: e.anomalyKinds ?? [] }, client: this.lookupText(e.client), server: this.lookupText(e.server),
        funcs: new Map(), targets: new Map(), poll: PollTimer.resume(e.pollInterval, e.pollJitter, e.maxRequestGap ?? 0),
        addr: null, slot: undefined,
      };
      for (const f of e.functions) es.funcs.set(functionKeyNumber(f.protocol, f.func), { ...f });
      for (const t of e.targets) {
        let pair = es.targets.get(t.space);
        if (pair === undefined) { pair = [new RangeSet(), new RangeSet()]; es.targets.set(t.space, pair); }
        pair[t.access === 'write' ? 1 : 0] = RangeSet.from(t.ranges);
      }
      this.loadedEdges.set(e.id, es);
    }
  }

  private *allEdges(): Iterable<EdgeState> {
    yield* this.edges.values();
    yield* this.loadedEdges.values();
  }

  private sourceAsset(pkt: Packet): AssetState {
    let s = pkt.ipVersion === 4 ? this.assets4.get(pkt.srcIp4) : this.assetsText.get(pkt.srcIp);
    if (s === undefined) {
      s = { a: newAsset(pkt.srcIp, pkt.ts), lastMac: '', announcedMac: null };
      if (pkt.ipVersion === 4) this.assets4.set(pkt.srcIp4, s); else this.assetsText.set(pkt.srcIp, s);
    }
    if (s.lastMac !== pkt.srcMac && pkt.srcMac !== '') {
      s.lastMac = pkt.srcMac;
      let ips = this.macIps.get(pkt.srcMac);
      if (ips === undefined) { ips = new Set(); this.macIps.set(pkt.srcMac, ips); }
      ips.add(pkt.srcIp);
    }
    return s;
  }

  private newEdge(addr: EdgeAddress, ts: number): EdgeState {
    const loaded = this.loadedEdges.get(addr.id);
    if (loaded !== undefined) {
      // Continue the stored edge instead of starting a twin.
      this.loadedEdges.delete(addr.id);
      loaded.client = undefined; loaded.server = undefined; loaded.addr = addr;
      return loaded;
    }
    const { id, client, server, transport, port, proto } = addr;
    const protocol = transport === 'ip' ? ipProtoName(proto) : serviceName(transport, port) ?? `${transport}/${port}`;
    const e: Edge = {
      id, client, server, transport, port, protocol, protocols: [],
      packets: 0, bytes: 0, firstSeen: ts, lastSeen: ts, functions: [], targets: [], requests: 0, responses: 0,
      pollInterval: null, pollJitter: null, maxRequestGap: 0, anomalies: 0, anomalyKinds: [],
    };
    return { e, client: undefined, server: undefined, funcs: new Map(), targets: new Map(), poll: new PollTimer(), addr, slot: undefined };
  }

  private addProtocol(es: EdgeState, protocol: string): void {
    const e = es.e;
    if (!e.protocols.includes(protocol)) e.protocols.push(protocol);
    if (IDENTITY_PROTOCOLS.has(protocol)) return;
    // The first industrial protocol names the edge (ENIP carries CIP: keep 'enip').
    if (!e.protocols.some((p) => p !== protocol && !IDENTITY_PROTOCOLS.has(p))) e.protocol = protocol;
  }

  private applyIdentity(m: Message, id: IdentityFacts): void {
    const aboutDst = id.about === 'dst';
    const ip = id.ip ?? (aboutDst ? m.dstIp : m.srcIp);
    const mac = id.mac ?? (aboutDst ? m.dstMac : m.srcMac);
    let s: AssetState | undefined;
    if (ip !== '' && ip !== '0.0.0.0') {
      s = this.lookupText(ip);
      if (s === undefined) { s = { a: newAsset(ip, m.ts), lastMac: '', announcedMac: null }; this.putAsset(ip, s); }
      if (id.mac !== undefined) s.announcedMac = id.mac;
      else if (m.transport === 'l2' && !aboutDst && m.srcMac !== '') s.announcedMac ??= m.srcMac;
    } else if (mac !== '') {
      s = this.l2Assets.get(mac);
      if (s === undefined) { s = { a: newAsset('', m.ts, mac), lastMac: mac, announcedMac: mac }; this.l2Assets.set(mac, s); }
    }
    if (s === undefined) return;
    const a = s.a;
    if (m.ts > a.lastSeen) a.lastSeen = m.ts;
    if (id.hostname !== undefined && id.hostname !== '' && !a.hostnames.includes(id.hostname)) a.hostnames.push(id.hostname);
    const source = `${m.protocol}${m.func >= 0 ? `:${m.func}` : ''} frame ${m.frame}`;
    for (const k of IDENTITY_KEYS) {
      const v = id[k];
      if (v !== undefined && v !== '' && a.identity[k] !== v) { a.identity[k] = v; a.identitySources[k] = source; }
    }
  }

  private lookupText(ip: string): AssetState | undefined {
    const n = ipv4Number(ip);
    return n >= 0 ? this.assets4.get(n) : this.assetsText.get(ip);
  }

  private putAsset(ip: string, s: AssetState): void {
    const n = ipv4Number(ip);
    if (n >= 0) this.assets4.set(n, s); else this.assetsText.set(ip, s);
  }

  private edgeOut(es: EdgeState): Edge {
    const e = es.e;
    e.functions = [...es.funcs.values()].sort((x, y) => (x.protocol < y.protocol ? -1 : x.protocol > y.protocol ? 1 : x.func - y.func));
    const targets: TargetRanges[] = [];
    for (const [space, [r, w]] of es.targets) {
      const rr = r.toArray(), wr = w.toArray();
      if (rr.length) targets.push({ space, access: 'read', ranges: rr });
      if (wr.length) targets.push({ space, access: 'write', ranges: wr });
    }
    e.targets = targets;
    const p = es.poll.period();
    if (p !== null) { e.pollInterval = p.median; e.pollJitter = p.iqr; }
    e.maxRequestGap = Math.round(es.poll.maxGap * 1e6) / 1e6;
    return e;
  }
}

const IDENTITY_KEYS = ['vendor', 'product', 'model', 'firmware', 'hardware', 'serial', 'deviceType', 'plcMode'] as const;

function newAsset(ip: string, ts: number, mac: string | null = null): Asset {
  return {
    id: ip !== '' ? ip : mac!, ips: ip !== '' ? [ip] : [], mac, macVendor: null, hostnames: [], identity: {},
    identitySources: {}, role: 'unknown', roleReasons: [], serves: [], uses: [], firstSeen: ts, lastSeen: ts,
    packetsSent: 0, bytesSent: 0, packetsReceived: 0, bytesReceived: 0,
  };
}

/** Fold what a layer-2-only record knows into the IP asset with the same MAC. */
function mergeInto(into: Asset, from: Asset): void {
  for (const h of from.hostnames) if (!into.hostnames.includes(h)) into.hostnames.push(h);
  for (const k of IDENTITY_KEYS) {
    if (into.identity[k] === undefined && from.identity[k] !== undefined) {
      into.identity[k] = from.identity[k];
      into.identitySources[k] = from.identitySources[k] ?? '';
    }
  }
  into.firstSeen = Math.min(into.firstSeen, from.firstSeen);
  into.lastSeen = Math.max(into.lastSeen, from.lastSeen);
}

/** Unspecified, broadcast and multicast sources are not devices (DHCP clients without an address, odd stacks). */
function isHostAddress(pkt: Packet): boolean {
  if (pkt.ipVersion === 4) {
    const a = pkt.srcIp4;
    return a !== 0 && a !== 0xffffffff && (a >>> 28) !== 0xe;
  }
  return pkt.srcIp !== '::' && !pkt.srcIp.startsWith('ff');
}

function ipv4Number(ip: string): number {
  const p = ip.split('.');
  if (p.length !== 4) return -1;
  let n = 0;
  for (const x of p) {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0 || v > 255 || x === '') return -1;
    n = n * 256 + v;
  }
  return n;
}

const IP_PROTOCOLS: Record<number, string> = { 1: 'icmp', 2: 'igmp', 47: 'gre', 50: 'esp', 58: 'icmpv6', 89: 'ospf', 112: 'vrrp' };
function ipProtoName(p: number): string {
  return IP_PROTOCOLS[p] ?? `ip/${p}`;
}

/** Sort by address keys (numeric for IPv4, text otherwise) computed once per item, then a number. */
function sortByAddress<T>(xs: T[], keys: (x: T) => string[], tie: (x: T) => number = () => 0): T[] {
  const k = xs.map((x) => ({ x, a: keys(x).map((s) => { const n = ipv4Number(s); return n >= 0 ? n : s; }), t: tie(x) }));
  k.sort((p, q) => {
    for (let i = 0; i < p.a.length; i++) {
      const u = p.a[i]!, v = q.a[i]!;
      if (u === v) continue;
      if (typeof u === 'number' && typeof v === 'number') return u - v;
      if (typeof u === 'number') return -1;
      if (typeof v === 'number') return 1;
      return u < v ? -1 : 1;
    }
    return p.t - q.t;
  });
  return k.map((e) => e.x);
}

