import type { Packet } from '../dissect/packet.js';
import { markMalformed, type IdentityFacts, type Message } from '../dissect/message.js';
import {
  SERVICE_FORWARD_OPEN,
  SERVICE_LARGE_FORWARD_OPEN,
} from '../dissect/protocols/cip-forward-open.js';
import { IoConnections } from './io-connections.js';
import { isIndustrialIndex, PROTOCOL_INDEX } from '../dissect/registry.js';
import type { Asset, Edge, FunctionStats, InventorySnapshot, TargetRanges } from './model.js';
import { MAX_RANGES, RangeSet } from './ranges.js';
import { IDENTITY_PROTOCOLS, serviceName } from './services.js';
import { EdgeTable, type EdgeAddress } from './edge-table.js';
import { vendorOf } from './oui.js';
import { orderedStates, readOutOf, type InventoryReadOut } from './read-out.js';
import { PollTimer } from './polling.js';
import { anomalyKind } from './anomaly-kind.js';
import { addBounded, countCapped, IDENTITY_KEYS, LIMITS, type Capped } from './merge.js';
import { refused, requestedMode } from './plc-mode.js';
import { ipv4Number, isPublicIpv4 } from './address-scope.js';
import { DEFAULT_SETTINGS } from '../settings/model.js';

/** A MAC seen as the source of this many IPs is a router or firewall, not the hosts behind it. */
const GATEWAY_MAC_IPS = 4;

/** How many assets and edges one inventory tracks; beyond, new ones are counted as not tracked. */
export interface InventoryLimits {
  maxAssets?: number;
  maxEdges?: number;
}

/** A large plant has a few thousand devices; a flood of spoofed senders must not take the host's memory. */
export const DEFAULT_MAX_ASSETS = DEFAULT_SETTINGS.inventory.max_assets;
export const DEFAULT_MAX_EDGES = DEFAULT_SETTINGS.inventory.max_edges;

/**
 * One device, kept compact (one object, lists allocated on first use): a flood of senders must cost little.
 * The Asset record is built from it when the inventory is read.
 */
interface AssetState {
  id: string;
  ip: string;
  mac: string | null;
  macVendor: string | null;
  hostnames: string[] | null;
  identity: Asset['identity'] | null;
  identitySources: Record<string, string> | null;
  /** Capture time of each identity fact: an older fact never replaces a newer one. */
  identityTimes: Record<string, number> | null;
  /** A stop or start asked of this device, until its answer: a refusal restores the mode it had before. */
  modeAsked: ModeAsked | null;
  /** MAC of the router this address was seen through (its frames carry the router's MAC, not its own). */
  router: string | null;
  firstSeen: number;
  lastSeen: number;
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  /** Last source MAC seen for this IP (fast path: most packets repeat it). */
  lastMac: string;
  /** MAC announced by ARP/DHCP for this IP: authoritative over Ethernet headers. */
  announcedMac: string | null;
  /** Changed since the last takeDelta. */
  dirty: boolean;
}

/**
 * One conversation, kept compact like AssetState (its own fields are its address, so consumers sharing the
 * edge lookup get it without another object); the Edge record is built when the inventory is read.
 */
interface EdgeState extends EdgeAddress {
  protocol: string;
  protocols: string[] | null;
  packets: number;
  bytes: number;
  firstSeen: number;
  lastSeen: number;
  requests: number;
  responses: number;
  anomalies: number;
  anomalyKinds: string[] | null;
  /**
   * Functions seen, allocated on the first message (most edges of a scan or flood never carry one). A short
   * list, searched in order: an edge carries a handful of functions, and a map per edge costs far more.
   */
  funcs: FunctionStats[] | null;
  /** Address ranges read and written per space, each set allocated on first use; a short list too. */
  targets: SpaceRanges[] | null;
  /** Allocated on the first industrial request. */
  poll: PollTimer | null;
  /** Per-edge state of a consumer riding on this inventory's edge lookup (the detection engine). */
  slot: unknown;
  /** Changed since the last takeDelta. */
  dirty: boolean;
}

interface ModeAsked {
  protocol: string;
  /** Transaction id of the request (-1 when the protocol has none): the answer must carry the same. */
  txId: number;
  before: string | undefined;
  beforeSource: string | undefined;
}

interface SpaceRanges {
  space: string;
  read: RangeSet | null;
  write: RangeSet | null;
}

/** The edge of the packet just seen, for consumers that share the inventory's per-packet edge lookup. */
export interface CurrentEdge {
  addr: EdgeAddress;
  toServer: boolean;
  slot: unknown;
}

/**
 * Folds packets and messages into the asset inventory and the communication map. Passive: it only counts
 * what it is shown. Hooks are synchronous and run on the capture hot path. Bounded: at most `maxAssets`
 * assets and `maxEdges` edges (existing ones keep updating), and bounded lists per asset and edge; what the
 * bounds turn away is counted in `capped`.
 */
export class Inventory {
  private readonly assets4 = new Map<number, AssetState>();
  private readonly assetsText = new Map<string, AssetState>();
  private readonly l2Assets = new Map<string, AssetState>();
  /** Source MAC → source IPs seen behind it (up to GATEWAY_MAC_IPS), to recognise gateways. */
  private readonly macIps = new Map<string, string[]>();
  /**
   * A private IPv4 sender was seen: the capture is of a private network, so public addresses in it sit behind
   * a router and their frames carry the router's MAC.
   */
  private sawPrivate4 = false;
  /** Source MACs that carried a public IPv4 address (routers, on a private network); bounded like macIps. */
  private readonly publicMacs = new Set<string>();
  private readonly edges = new EdgeTable<EdgeState>((addr, pkt) => this.newEdge(addr, pkt.ts));
  /** Edge of the packet being processed: its messages arrive right after it. */
  private current: EdgeState | undefined;
  private readonly maxAssets: number;
  private readonly maxEdges: number;
  private assetCount = 0;
  private edgeCount = 0;
  /** What the bounds turned away, by kind (assets_not_tracked counts packets and facts of untracked senders). */
  readonly capped: Capped = {};
  /** EtherNet/IP I/O connections opened by the Forward_Opens seen. */
  readonly io = new IoConnections();

  constructor(limits: InventoryLimits = {}) {
    this.maxAssets = limits.maxAssets ?? DEFAULT_MAX_ASSETS;
    this.maxEdges = limits.maxEdges ?? DEFAULT_MAX_EDGES;
  }

  onPacket(pkt: Packet): void {
    this.current = undefined;
    if (pkt.ipVersion === 0) return;
    if (!isHostAddress(pkt)) return;
    const src = this.sourceAsset(pkt);
    const dst = pkt.ipVersion === 4 ? this.assets4.get(pkt.dstIp4) : this.assetsText.get(pkt.dstIp);
    const ts = pkt.ts,
      len = pkt.wireLen;
    if (src !== undefined) {
      src.packetsSent++;
      src.bytesSent += len;
      src.lastSeen = ts;
      src.dirty = true;
    }
    if (dst !== undefined) {
      dst.packetsReceived++;
      dst.bytesReceived += len;
      dst.dirty = true;
    }
    if (pkt.fragment) return;

    // An untracked sender starts no edge; a full edge table starts none either, and says so.
    const e = this.edges.find(pkt, src !== undefined && this.edgeCount < this.maxEdges);
    if (e === undefined) {
      if (src !== undefined) countCapped(this.capped, 'edges_not_tracked');
      return;
    }
    e.packets++;
    e.bytes += len;
    e.lastSeen = ts;
    e.dirty = true;
    this.current = e;
  }

  /**
   * The edge of the packet passed to the last onPacket (undefined for non-IP frames and untracked edges),
   * with a slot where a consumer keeps its own per-edge state: one edge lookup per packet serves discovery
   * and detection.
   */
  currentEdge(): CurrentEdge | undefined {
    const es = this.current;
    if (es === undefined) return undefined;
    const c = this.cur;
    c.addr = es;
    c.toServer = this.edges.toServer;
    c.slot = es.slot;
    return c;
  }

  /** Store a consumer's per-edge state on the current packet's edge. */
  setCurrentSlot(value: unknown): void {
    if (this.current !== undefined) this.current.slot = value;
  }

  /** EtherNet/IP implicit I/O tied to its Forward_Open: the granted interval, or an unknown id flagged. */
  private ioConnection(m: Message): void {
    const c = this.io.onMessage(m);
    if (c === null)
      markMalformed(
        m,
        'io_unknown_connection',
        `I/O on connection id 0x${Number(m.fields?.connection_id).toString(16)} that no Forward_Open between these hosts set up`,
      );
    else if (c !== undefined && m.fields !== null) m.fields.rpi_us = c.rpiUs;
  }

  private readonly cur: CurrentEdge = {
    addr: null as unknown as EdgeAddress,
    toServer: true,
    slot: undefined,
  };

  onMessage(m: Message): void {
    if (
      m.funcName === 'IO' ||
      m.func === SERVICE_FORWARD_OPEN ||
      m.func === SERVICE_LARGE_FORWARD_OPEN
    )
      this.ioConnection(m);
    if (m.identity !== null) this.applyIdentity(m, m.identity);
    if (m.role === 'request' ? requestedMode(m) !== null : refused(m)) this.applyModeChange(m);
    if (m.transport === 'l2') return;
    const es = this.current;
    if (es === undefined) return;
    if (es.protocols === null || !es.protocols.includes(m.protocol))
      this.addProtocol(es, m.protocol);

    const pidx = PROTOCOL_INDEX[m.protocol] ?? 0;
    // Lists start at their exact size ([x], not [] then push, which reserves 17 slots): a million edges
    // each carrying one function, one protocol and one address space is a plant-sized inventory.
    const funcs = es.funcs;
    let f = funcs === null ? undefined : findFunction(funcs, m.protocol, m.func);
    if (f === undefined && (funcs === null || funcs.length < LIMITS.functions)) {
      f = {
        protocol: m.protocol,
        func: m.func,
        name: m.funcName,
        count: 0,
        writes: 0,
        exceptions: 0,
      };
      if (funcs === null) es.funcs = [f];
      else funcs.push(f);
    }
    if (f !== undefined) {
      f.count++;
      if (m.write && m.role !== 'response') f.writes++;
      if (m.exception !== -1) f.exceptions++;
    } else countCapped(this.capped, 'edge_functions');
    if (m.anomaly !== null) {
      es.anomalies++;
      addBounded(
        (es.anomalyKinds ??= []),
        anomalyKind(m.protocol, m.anomaly),
        LIMITS.anomalyKinds,
        this.capped,
        'edge_anomaly_kinds',
      );
    }
    if (m.role === 'request') es.requests++;
    else if (m.role === 'response') es.responses++;

    const targets = m.targets;
    if (targets !== null) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        const spaces = es.targets;
        let sr = spaces === null ? undefined : findSpace(spaces, t.space);
        if (sr === undefined) {
          if (spaces !== null && spaces.length >= LIMITS.spaces) {
            countCapped(this.capped, 'edge_address_spaces');
            continue;
          }
          sr = { space: t.space, read: null, write: null };
          if (spaces === null) es.targets = [sr];
          else spaces.push(sr);
        }
        const set = m.write
          ? (sr.write ??= new RangeSet(MAX_RANGES))
          : (sr.read ??= new RangeSet(MAX_RANGES));
        if (!set.add(t.start, t.count)) countCapped(this.capped, 'edge_address_ranges');
      }
    }
    if (m.role === 'request' && isIndustrialIndex(pidx)) {
      const start = targets !== null && targets.length > 0 ? targets[0]!.start : 0;
      (es.poll ??= new PollTimer()).request(
        (pidx * 256 + (m.func & 0xff)) * 16777216 + (start & 0xffffff),
        m.ts,
      );
    }
  }

  /** The inventory as plain data (fresh records), with roles inferred. */
  snapshot(): InventorySnapshot {
    const r = this.readOut();
    return { assets: r.assets, edges: [...r.edges()] };
  }

  /**
   * The same records, read out for writing: the assets (roles inferred) held, each edge record built as it is
   * taken, so a plant of a million edges never holds them all as records at once.
   */
  readOut(): InventoryReadOut {
    const { out, byId, emit } = this.assetRecords(false);
    // Who serves and who uses each industrial protocol, from the edges that carried its messages.
    for (const es of this.edges.values()) {
      if (es.protocols === null) continue;
      for (const p of es.protocols) {
        if (IDENTITY_PROTOCOLS.has(p)) continue;
        const server = byId.get(es.server),
          client = byId.get(es.client);
        if (server) {
          const a = emit(server);
          if (!a.serves.includes(p)) a.serves.push(p);
        }
        if (client) {
          const a = emit(client);
          if (!a.uses.includes(p)) a.uses.push(p);
        }
      }
    }
    return readOutOf([...out.values()], this.edges.values(), edgeOut);
  }

  /**
   * What changed since the last call, as deltas to merge into a store: counters count only what was seen
   * since, lists and ranges hold only what is new (merging unites them). Roles are left to whoever merges,
   * since they depend on the merged facts.
   */
  takeDelta(): InventorySnapshot {
    const snap = this.collectChanged();
    for (const s of this.allAssets()) {
      if (!s.dirty) continue;
      s.packetsSent = 0;
      s.bytesSent = 0;
      s.packetsReceived = 0;
      s.bytesReceived = 0;
      s.dirty = false;
    }
    for (const es of this.edges.values()) if (es.dirty) restartEdge(es);
    return snap;
  }

  /**
   * takeDelta read out for a store merge of any size: the changed assets as records (their counters restart
   * now), the changed edges in the same order, each record built (and its counters restarted) as it is taken.
   * An edge not taken stays changed for the next delta.
   */
  takeDeltaStream(): { assets: Asset[]; edges: Iterable<Edge> } {
    const { out } = this.assetRecords(true);
    const assets = sortByAddress([...out.values()], (a) => [a.id]);
    for (const s of this.allAssets()) {
      if (!s.dirty) continue;
      s.packetsSent = 0;
      s.bytesSent = 0;
      s.packetsReceived = 0;
      s.bytesReceived = 0;
      s.dirty = false;
    }
    const dirty: EdgeState[] = [];
    for (const es of this.edges.values()) if (es.dirty) dirty.push(es);
    return {
      assets,
      edges: (function* () {
        for (const es of orderedStates(dirty)) {
          const e = edgeOut(es);
          restartEdge(es);
          yield e;
        }
      })(),
    };
  }

  /** Assets and edges tracked now. */
  get size(): { assets: number; edges: number } {
    return { assets: this.assetCount, edges: this.edgeCount };
  }

  /** Fresh records of the changed assets and edges, addresses folded per device. */
  private collectChanged(): InventorySnapshot {
    const { out } = this.assetRecords(true);
    const edges: Edge[] = [];
    for (const es of this.edges.values()) if (es.dirty) edges.push(edgeOut(es));
    return {
      assets: sortByAddress([...out.values()], (a) => [a.id]),
      edges: sortByAddress(
        edges,
        (e) => [e.server, e.client],
        (e) => e.port,
      ),
    };
  }

  /** Fresh asset records (only the changed ones with `changedOnly`), addresses folded per device. */
  private assetRecords(changedOnly: boolean): {
    out: Map<AssetState, Asset>;
    byId: Map<string, AssetState>;
    emit: (s: AssetState) => Asset;
  } {
    const out = new Map<AssetState, Asset>();
    const emit = (s: AssetState): Asset => {
      let c = out.get(s);
      if (c === undefined) {
        c = assetOut(s);
        out.set(s, c);
      }
      return c;
    };
    const byId = new Map<string, AssetState>();
    const byMac = new Map<string, AssetState>();
    const place = (s: AssetState): void => {
      this.placeAsset(s, byMac);
      if (!changedOnly) byId.set(s.id, s);
      if (!changedOnly || s.dirty) emit(s);
    };
    for (const s of this.assets4.values()) place(s);
    // IPv6 link-local sources are the same NICs as the IPv4 hosts: fold them in by MAC.
    for (const s of this.assetsText.values()) {
      const twin = s.id.startsWith('fe80:') && s.lastMac !== '' ? byMac.get(s.lastMac) : undefined;
      if (twin === undefined) {
        place(s);
        continue;
      }
      if (!changedOnly) byId.set(s.id, twin);
      if (changedOnly && !s.dirty) continue;
      const t = emit(twin);
      if (!t.ips.includes(s.id)) t.ips.push(s.id);
      t.packetsSent += s.packetsSent;
      t.bytesSent += s.bytesSent;
      t.packetsReceived += s.packetsReceived;
      t.bytesReceived += s.bytesReceived;
      t.firstSeen = Math.min(t.firstSeen, s.firstSeen);
      t.lastSeen = Math.max(t.lastSeen, s.lastSeen);
    }
    for (const s of this.l2Assets.values()) {
      if (changedOnly && !s.dirty) continue;
      const twin = byMac.get(s.id);
      if (twin !== undefined) {
        mergeInto(emit(twin), assetOut(s));
        continue;
      }
      s.macVendor = vendorOf(s.id) ?? null;
      emit(s);
    }
    return { out, byId, emit };
  }

  private placeAsset(s: AssetState, byMac: Map<string, AssetState>): void {
    if (s.announcedMac !== null) {
      s.mac = s.announcedMac;
      s.router = null;
    } else if (s.lastMac !== '') {
      // A MAC carrying many addresses, or public ones on a private network, is a router's: every address it
      // carries without announcing it (ARP, DHCP) sits behind it, off-subnet private ones too.
      const routed =
        (this.macIps.get(s.lastMac)?.length ?? 0) >= GATEWAY_MAC_IPS ||
        (this.sawPrivate4 && this.publicMacs.has(s.lastMac));
      if (!routed) {
        s.mac = s.lastMac;
        s.router = null;
      } else {
        s.router = s.lastMac;
        if (s.mac === s.router) {
          s.mac = null;
          s.macVendor = null;
        }
      }
    }
    if (s.mac !== null) {
      s.macVendor = vendorOf(s.mac) ?? s.macVendor;
      if (!byMac.has(s.mac)) byMac.set(s.mac, s);
    }
  }

  private *allAssets(): Iterable<AssetState> {
    yield* this.assets4.values();
    yield* this.assetsText.values();
    yield* this.l2Assets.values();
  }

  /** Room for a new asset? When the table is full the refusal is counted. */
  private admit(): boolean {
    if (this.assetCount < this.maxAssets) {
      this.assetCount++;
      return true;
    }
    countCapped(this.capped, 'assets_not_tracked');
    return false;
  }

  private sourceAsset(pkt: Packet): AssetState | undefined {
    let s = pkt.ipVersion === 4 ? this.assets4.get(pkt.srcIp4) : this.assetsText.get(pkt.srcIp);
    if (s === undefined) {
      if (!this.admit()) return undefined;
      s = newAsset(pkt.srcIp, pkt.ts);
      if (pkt.ipVersion === 4) {
        this.assets4.set(pkt.srcIp4, s);
        if (!this.sawPrivate4 && !isPublicIpv4(pkt.srcIp4)) this.sawPrivate4 = true;
      } else this.assetsText.set(pkt.srcIp, s);
    }
    if (s.lastMac !== pkt.srcMac && pkt.srcMac !== '') {
      s.lastMac = pkt.srcMac;
      let ips = this.macIps.get(pkt.srcMac);
      if (ips === undefined) {
        // One entry per MAC: spoofed MACs must not grow this without bound either.
        if (this.macIps.size >= this.maxAssets) {
          countCapped(this.capped, 'macs_not_tracked');
          return s;
        }
        ips = [];
        this.macIps.set(pkt.srcMac, ips);
      }
      if (ips.length < GATEWAY_MAC_IPS && !ips.includes(pkt.srcIp)) {
        ips.push(pkt.srcIp);
        if (pkt.ipVersion === 4 && isPublicIpv4(pkt.srcIp4)) this.publicMacs.add(pkt.srcMac);
      }
    }
    return s;
  }

  private newEdge(addr: EdgeAddress, ts: number): EdgeState {
    this.edgeCount++;
    const { id, client, server, transport, port, proto } = addr;
    const protocol =
      transport === 'ip'
        ? ipProtoName(proto)
        : (serviceName(transport, port) ?? `${transport}/${port}`);
    return {
      id,
      client,
      server,
      transport,
      port,
      proto,
      protocol,
      protocols: null,
      packets: 0,
      bytes: 0,
      firstSeen: ts,
      lastSeen: ts,
      requests: 0,
      responses: 0,
      anomalies: 0,
      anomalyKinds: null,
      funcs: null,
      targets: null,
      poll: null,
      slot: undefined,
      dirty: true,
    };
  }

  private addProtocol(es: EdgeState, protocol: string): void {
    let protocols = es.protocols;
    if (protocols === null) es.protocols = protocols = [protocol];
    else if (!protocols.includes(protocol)) protocols.push(protocol);
    if (IDENTITY_PROTOCOLS.has(protocol)) return;
    // The first industrial protocol names the edge (ENIP carries CIP: keep 'enip').
    if (!protocols.some((p) => p !== protocol && !IDENTITY_PROTOCOLS.has(p)))
      es.protocol = protocol;
  }

  /** The asset of an address named by a message, created when new (undefined when the table is full). */
  private assetAt(ip: string, ts: number): AssetState | undefined {
    let s = this.lookupText(ip);
    if (s === undefined) {
      if (!this.admit()) return undefined;
      s = newAsset(ip, ts);
      this.putAsset(ip, s);
    }
    return s;
  }

  /**
   * A CPU stop or start request sets the target's mode at once (the frame is the source), as the newest fact;
   * the device's refusal restores what it said before.
   */
  private applyModeChange(m: Message): void {
    if (m.role === 'request') {
      const mode = requestedMode(m)!;
      const s = m.dstIp !== '' ? this.assetAt(m.dstIp, m.ts) : undefined;
      if (s === undefined) return;
      s.modeAsked = {
        protocol: m.protocol,
        txId: m.txId,
        before: s.identity?.plcMode,
        beforeSource: s.identitySources?.plcMode,
      };
      this.setFact(
        s,
        'plcMode',
        mode,
        `${m.protocol}:${m.func} frame ${m.frame} (${m.funcName || 'request'} from ${m.srcIp})`,
        m.ts,
      );
      return;
    }
    const s = this.lookupText(m.srcIp);
    const asked = s?.modeAsked;
    if (s === undefined || asked == null || asked.protocol !== m.protocol) return;
    if (asked.txId !== -1 && m.txId !== -1 && asked.txId !== m.txId) return; // another request's error
    s.modeAsked = null;
    s.dirty = true;
    const id = (s.identity ??= {}),
      src = (s.identitySources ??= {}),
      times = (s.identityTimes ??= {});
    if (asked.before === undefined) {
      delete id.plcMode;
      delete src.plcMode;
      delete times.plcMode;
      return;
    }
    // The refusal is the newest word on the mode: dated now, so a store that already took the stop takes it too.
    id.plcMode = asked.before;
    src.plcMode = `${asked.beforeSource ?? 'disclosed'}; ${m.protocol} refusal frame ${m.frame}`;
    times.plcMode = m.ts;
  }

  /** Record an identity fact unless a newer one is already known. */
  private setFact(
    s: AssetState,
    k: (typeof IDENTITY_KEYS)[number],
    v: string,
    source: string,
    ts: number,
  ): void {
    const t = s.identityTimes?.[k];
    if (t !== undefined && ts < t) return;
    s.dirty = true;
    (s.identityTimes ??= {})[k] = ts;
    if (s.identity?.[k] === v) return;
    (s.identity ??= {})[k] = v;
    (s.identitySources ??= {})[k] = source;
  }

  private applyIdentity(m: Message, id: IdentityFacts): void {
    const aboutDst = id.about === 'dst';
    const ip = id.ip ?? (aboutDst ? m.dstIp : m.srcIp);
    const mac = id.mac ?? (aboutDst ? m.dstMac : m.srcMac);
    let s: AssetState | undefined;
    if (ip !== '' && ip !== '0.0.0.0') {
      s = this.assetAt(ip, m.ts);
      if (s === undefined) return;
      if (id.mac !== undefined) s.announcedMac = id.mac;
      else if (m.transport === 'l2' && !aboutDst && m.srcMac !== '') s.announcedMac ??= m.srcMac;
    } else if (mac !== '') {
      s = this.l2Assets.get(mac);
      if (s === undefined) {
        if (!this.admit()) return;
        s = newAsset('', m.ts, mac);
        this.l2Assets.set(mac, s);
      }
    }
    if (s === undefined) return;
    s.dirty = true;
    if (m.ts > s.lastSeen) s.lastSeen = m.ts;
    if (id.hostname !== undefined && id.hostname !== '')
      addBounded(
        (s.hostnames ??= []),
        id.hostname,
        LIMITS.hostnames,
        this.capped,
        'asset_hostnames',
      );
    const source = `${m.protocol}${m.func >= 0 ? `:${m.func}` : ''} frame ${m.frame}`;
    for (const k of IDENTITY_KEYS) {
      const v = id[k];
      if (v !== undefined && v !== '') this.setFact(s, k, v, source, m.ts);
    }
  }

  private lookupText(ip: string): AssetState | undefined {
    const n = ipv4Number(ip);
    return n >= 0 ? this.assets4.get(n) : this.assetsText.get(ip);
  }

  private putAsset(ip: string, s: AssetState): void {
    const n = ipv4Number(ip);
    if (n >= 0) this.assets4.set(n, s);
    else this.assetsText.set(ip, s);
  }
}

/** An edge's delta was taken: its counters and lists restart. */
function restartEdge(es: EdgeState): void {
  es.packets = 0;
  es.bytes = 0;
  es.requests = 0;
  es.responses = 0;
  es.anomalies = 0;
  es.anomalyKinds = null;
  es.funcs = null;
  es.targets = null;
  es.dirty = false;
}

function findFunction(
  funcs: FunctionStats[],
  protocol: string,
  func: number,
): FunctionStats | undefined {
  for (let i = 0; i < funcs.length; i++) {
    const f = funcs[i]!;
    if (f.func === func && f.protocol === protocol) return f;
  }
  return undefined;
}

function findSpace(spaces: SpaceRanges[], space: string): SpaceRanges | undefined {
  for (let i = 0; i < spaces.length; i++) if (spaces[i]!.space === space) return spaces[i];
  return undefined;
}

function newAsset(ip: string, ts: number, mac: string | null = null): AssetState {
  return {
    id: ip !== '' ? ip : mac!,
    ip,
    mac,
    macVendor: null,
    hostnames: null,
    identity: null,
    identitySources: null,
    identityTimes: null,
    modeAsked: null,
    router: null,
    firstSeen: ts,
    lastSeen: ts,
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    lastMac: ip !== '' ? '' : mac!,
    announcedMac: ip !== '' ? null : mac,
    dirty: true,
  };
}

function assetOut(s: AssetState): Asset {
  return {
    id: s.id,
    ips: s.ip !== '' ? [s.ip] : [],
    mac: s.mac,
    macVendor: s.macVendor,
    hostnames: s.hostnames ? [...s.hostnames] : [],
    identity: { ...s.identity },
    identitySources: { ...s.identitySources },
    ...(s.identityTimes !== null ? { identityTimes: { ...s.identityTimes } } : {}),
    ...(s.router !== null
      ? { behindRouter: { mac: s.router, vendor: vendorOf(s.router) ?? null } }
      : {}),
    role: 'unknown',
    roleReasons: [],
    serves: [],
    uses: [],
    firstSeen: s.firstSeen,
    lastSeen: s.lastSeen,
    packetsSent: s.packetsSent,
    bytesSent: s.bytesSent,
    packetsReceived: s.packetsReceived,
    bytesReceived: s.bytesReceived,
  };
}

/** The Edge record of a state: functions, ranges and the polling estimate filled in. */
function edgeOut(es: EdgeState): Edge {
  const { id, client, server, transport, port } = es;
  const functions =
    es.funcs === null
      ? []
      : es.funcs
          .map((f) => ({ ...f }))
          .sort((x, y) =>
            x.protocol < y.protocol ? -1 : x.protocol > y.protocol ? 1 : x.func - y.func,
          );
  const targets: TargetRanges[] = [];
  if (es.targets !== null) {
    for (const { space, read, write } of es.targets) {
      const rr = read?.toArray() ?? [],
        wr = write?.toArray() ?? [];
      if (rr.length) targets.push({ space, access: 'read', ranges: rr });
      if (wr.length) targets.push({ space, access: 'write', ranges: wr });
    }
  }
  const p = es.poll?.period() ?? null;
  return {
    id,
    client,
    server,
    transport,
    port,
    protocol: es.protocol,
    protocols: es.protocols ? [...es.protocols] : [],
    packets: es.packets,
    bytes: es.bytes,
    firstSeen: es.firstSeen,
    lastSeen: es.lastSeen,
    functions,
    targets,
    requests: es.requests,
    responses: es.responses,
    pollInterval: p?.median ?? null,
    pollJitter: p?.iqr ?? null,
    maxRequestGap: es.poll ? Math.round(es.poll.maxGap * 1e6) / 1e6 : 0,
    anomalies: es.anomalies,
    anomalyKinds: es.anomalyKinds ? [...es.anomalyKinds] : [],
  };
}

/** Fold what a layer-2-only record knows into the IP asset with the same MAC. */
function mergeInto(into: Asset, from: Asset): void {
  for (const h of from.hostnames)
    if (!into.hostnames.includes(h) && into.hostnames.length < LIMITS.hostnames)
      into.hostnames.push(h);
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
    return a !== 0 && a !== 0xffffffff && a >>> 28 !== 0xe;
  }
  return pkt.srcIp !== '::' && !pkt.srcIp.startsWith('ff');
}

const IP_PROTOCOLS: Record<number, string> = {
  1: 'icmp',
  2: 'igmp',
  47: 'gre',
  50: 'esp',
  58: 'icmpv6',
  89: 'ospf',
  112: 'vrrp',
};
function ipProtoName(p: number): string {
  return IP_PROTOCOLS[p] ?? `ip/${p}`;
}

/** Sort by address keys (numeric for IPv4, text otherwise) computed once per item, then a number. */
function sortByAddress<T>(xs: T[], keys: (x: T) => string[], tie: (x: T) => number = () => 0): T[] {
  const k = xs.map((x) => ({
    x,
    a: keys(x).map((s) => {
      const n = ipv4Number(s);
      return n >= 0 ? n : s;
    }),
    t: tie(x),
  }));
  k.sort((p, q) => {
    for (let i = 0; i < p.a.length; i++) {
      const u = p.a[i]!,
        v = q.a[i]!;
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
