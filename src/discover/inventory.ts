import type { Packet } from '../dissect/packet.js';
import type { IdentityFacts, Message } from '../dissect/message.js';
import type { Asset, Edge, InventorySnapshot } from './model.js';
import { IDENTITY_PROTOCOLS } from './services.js';
import { EdgeBook, mergeEdgeRecords, type CurrentEdge, type EdgeRecord } from './edge-book.js';
import { vendorOf } from './oui.js';
import { U32Cache } from '../dissect/u32-cache.js';
import { orderedStates, readOutOf, type EdgeStateView, type InventoryReadOut } from './read-out.js';
import type { RoleEdge } from './roles.js';
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

interface ModeAsked {
  protocol: string;
  /** Transaction id of the request (-1 when the protocol has none): the answer must carry the same. */
  txId: number;
  before: string | undefined;
  beforeSource: string | undefined;
}

export type { CurrentEdge } from './edge-book.js';

/**
 * Folds packets and messages into the asset inventory and the communication map. Passive: it only counts
 * what it is shown. Hooks are synchronous and run on the capture hot path. Bounded: at most `maxAssets`
 * assets and `maxEdges` edges (existing ones keep updating), and bounded lists per asset and edge; what the
 * bounds turn away is counted in `capped`.
 */
export class Inventory {
  private readonly assets4 = new Map<number, AssetState>();
  /** Recently seen IPv4 assets, in front of assets4 (assets are never removed, so an entry stays valid). */
  private readonly recent4 = new U32Cache<AssetState>(12);
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
  private readonly maxAssets: number;
  private assetCount = 0;
  /** What the bounds turned away, by kind (assets_not_tracked counts packets and facts of untracked senders). */
  readonly capped: Capped = {};
  /**
   * The edge half, or null when the edges are kept elsewhere (by shard workers, src/discover/shard.ts): this
   * inventory then holds the asset half only, and its read-out takes the workers' edge records.
   */
  readonly edgeBook: EdgeBook | null;

  constructor(limits: InventoryLimits = {}, opts: { edges?: boolean } = {}) {
    this.maxAssets = limits.maxAssets ?? DEFAULT_MAX_ASSETS;
    this.edgeBook =
      opts.edges === false ? null : new EdgeBook(limits.maxEdges ?? DEFAULT_MAX_EDGES, this.capped);
  }

  /** EtherNet/IP I/O connections opened by the Forward_Opens seen. */
  get io(): EdgeBook['io'] {
    if (this.edgeBook === null) throw new Error('this inventory keeps no edges');
    return this.edgeBook.io;
  }

  onPacket(pkt: Packet): void {
    const eb = this.edgeBook;
    eb?.clear();
    if (pkt.ipVersion === 0) return;
    if (!isHostAddress(pkt)) return;
    const src = this.sourceAsset(pkt);
    const dst = pkt.ipVersion === 4 ? this.asset4(pkt.dstIp4) : this.assetsText.get(pkt.dstIp);
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
    if (pkt.fragment || eb === null) return;
    // An untracked sender starts no edge.
    eb.onPacket(pkt, src !== undefined);
  }

  /**
   * The edge of the packet passed to the last onPacket (undefined for non-IP frames and untracked edges),
   * with a slot where a consumer keeps its own per-edge state: one edge lookup per packet serves discovery
   * and detection.
   */
  currentEdge(): CurrentEdge | undefined {
    return this.edgeBook?.currentEdge();
  }

  /** Store a consumer's per-edge state on the current packet's edge. */
  setCurrentSlot(value: unknown): void {
    this.edgeBook?.setCurrentSlot(value);
  }

  onMessage(m: Message): void {
    this.edgeBook?.onMessageFirst(m);
    this.onAssetMessage(m);
    this.edgeBook?.onMessage(m);
  }

  /** True when the asset half reads this message (identity facts, a mode asked or refused). */
  static wantsMessage(m: Message): boolean {
    return m.identity !== null || (m.role === 'request' ? requestedMode(m) !== null : refused(m));
  }

  /** The asset half of a message: identity facts and controller mode changes. */
  onAssetMessage(m: Message): void {
    if (m.identity !== null) this.applyIdentity(m, m.identity);
    if (m.role === 'request' ? requestedMode(m) !== null : refused(m)) this.applyModeChange(m);
  }

  /** The inventory as plain data (fresh records), with roles inferred. */
  snapshot(): InventorySnapshot {
    return this.snapshotWith(null);
  }

  /**
   * The snapshot, with the edges of shard workers (their EdgeBook records) when this inventory keeps no edge
   * half of its own.
   */
  snapshotWith(shards: EdgeRecord[][] | null): InventorySnapshot {
    const eb = this.edgeBook;
    if (shards !== null || eb === null) {
      const r = this.readOutWith(shards);
      return { assets: r.assets, edges: [...r.edges()] };
    }
    // Every record is held in the end anyway: each edge's is built once, and roles are read from the records.
    const records = eb.edgeList(false);
    const r = this.readOutOfStates(
      () => records,
      (e) => e,
      null,
    );
    return { assets: r.assets, edges: [...r.edges()] };
  }

  /**
   * The same records, read out for writing: the assets (roles inferred) held, each edge record built as it is
   * taken, so a plant of a million edges never holds them all as records at once.
   */
  readOut(): InventoryReadOut {
    return this.readOutWith(null);
  }

  /** readOut with the edges of shard workers (see snapshotWith). */
  readOutWith(shards: EdgeRecord[][] | null): InventoryReadOut {
    if (shards !== null) {
      const edges = mergeEdgeRecords(shards);
      return this.readOutOfStates(
        () => edges,
        (e) => e,
        null,
      );
    }
    const eb = this.edgeBook;
    if (eb === null)
      return this.readOutOfStates(
        (): Edge[] => [],
        (e) => e,
        null,
      );
    // Roles read a view of each edge's state; its record is built once, when it is written.
    return this.readOutOfStates(
      () => eb.states(),
      (es) => eb.build(es),
      (es) => eb.roleView(es),
    );
  }

  private readOutOfStates<S extends EdgeStateView>(
    states: () => Iterable<S>,
    build: (s: S) => Edge,
    roleView: ((s: S) => RoleEdge) | null,
  ): InventoryReadOut {
    const { out, byId, emit } = this.assetRecords(false);
    servesAndUses(states(), byId, emit);
    return readOutOf([...out.values()], states(), build, roleView);
  }

  /**
   * What changed since the last call, as deltas to merge into a store: counters count only what was seen
   * since, lists and ranges hold only what is new (merging unites them). Roles are left to whoever merges,
   * since they depend on the merged facts.
   */
  takeDelta(): InventorySnapshot {
    return this.takeDeltaWith(null);
  }

  /** takeDelta with the edge deltas of shard workers (see snapshotWith). */
  takeDeltaWith(shards: EdgeRecord[][] | null): InventorySnapshot {
    const { out } = this.assetRecords(true);
    const edges =
      shards !== null ? mergeEdgeRecords(shards) : (this.edgeBook?.edgeList(true) ?? []);
    const snap = {
      assets: sortByAddress([...out.values()], (a) => [a.id]),
      edges: sortByAddress(
        edges,
        (e) => [e.server, e.client],
        (e) => e.port,
      ),
    };
    this.restartAssets();
    this.edgeBook?.resetDelta();
    return snap;
  }

  /**
   * takeDelta read out for a store merge of any size: the changed assets as records (their counters restart
   * now), the changed edges in the same order, each record built (and its counters restarted) as it is taken.
   * An edge not taken stays changed for the next delta.
   */
  takeDeltaStream(): { assets: Asset[]; edges: Iterable<Edge> } {
    return this.takeDeltaStreamWith(null);
  }

  /** takeDeltaStream with the edges of shard workers (see snapshotWith). */
  takeDeltaStreamWith(shards: EdgeRecord[][] | null): { assets: Asset[]; edges: Iterable<Edge> } {
    const { out } = this.assetRecords(true);
    const assets = sortByAddress([...out.values()], (a) => [a.id]);
    this.restartAssets();
    if (shards !== null) return { assets, edges: orderedStates(mergeEdgeRecords(shards)) };
    return { assets, edges: this.edgeBook?.takeDeltaStream() ?? [] };
  }

  private restartAssets(): void {
    for (const s of this.allAssets()) {
      if (!s.dirty) continue;
      s.packetsSent = 0;
      s.bytesSent = 0;
      s.packetsReceived = 0;
      s.bytesReceived = 0;
      s.dirty = false;
    }
  }

  /** Assets and edges tracked now. */
  get size(): { assets: number; edges: number } {
    return { assets: this.assetCount, edges: this.edgeBook?.size ?? 0 };
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

  /** The asset of an IPv4 address, through the recent-asset cache (a map lookup by address boxes the key). */
  private asset4(n: number): AssetState | undefined {
    let s = this.recent4.get(n);
    if (s === undefined) {
      s = this.assets4.get(n);
      if (s !== undefined) this.recent4.set(n, s);
    }
    return s;
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
    let s = pkt.ipVersion === 4 ? this.asset4(pkt.srcIp4) : this.assetsText.get(pkt.srcIp);
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

  /** Record an identity fact unless a newer one is already known; `source` is its text or the message disclosing it. */
  private setFact(
    s: AssetState,
    k: (typeof IDENTITY_KEYS)[number],
    v: string,
    source: string | Message,
    ts: number,
  ): void {
    const t = s.identityTimes?.[k];
    if (t !== undefined && ts < t) return;
    s.dirty = true;
    (s.identityTimes ??= {})[k] = ts;
    if (s.identity?.[k] === v) return;
    (s.identity ??= {})[k] = v;
    (s.identitySources ??= {})[k] = typeof source === 'string' ? source : identitySource(source);
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
    // The source text is built only when a fact changes: a device repeats the same facts (every I-Am).
    for (const k of IDENTITY_KEYS) {
      const v = id[k];
      if (v !== undefined && v !== '') this.setFact(s, k, v, m, m.ts);
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

/**
 * Who serves and who uses each industrial protocol, from the edges that carried its messages. A function of its
 * own: its loop runs once per edge and is compiled on its own, with its feedback complete.
 */
function servesAndUses(
  states: Iterable<EdgeStateView>,
  byId: Map<string, AssetState>,
  emit: (s: AssetState) => Asset,
): void {
  for (const es of states) {
    const protocols = es.protocols;
    if (protocols === null || protocols.length === 0) continue;
    // Each end's record once per edge (emit keeps them), not once per protocol.
    let server: Asset | null = null,
      client: Asset | null = null,
      looked = false;
    for (const p of protocols) {
      if (IDENTITY_PROTOCOLS.has(p)) continue;
      if (!looked) {
        looked = true;
        const s = byId.get(es.server),
          c = byId.get(es.client);
        if (s !== undefined) server = emit(s);
        if (c !== undefined) client = emit(c);
      }
      if (server !== null && !server.serves.includes(p)) server.serves.push(p);
      if (client !== null && !client.uses.includes(p)) client.uses.push(p);
    }
  }
}

/** Where an identity fact came from: protocol, function and frame. */
function identitySource(m: Message): string {
  return `${m.protocol}${m.func >= 0 ? `:${m.func}` : ''} frame ${m.frame}`;
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
export function isHostAddress(pkt: Packet): boolean {
  if (pkt.ipVersion === 4) {
    const a = pkt.srcIp4;
    return a !== 0 && a !== 0xffffffff && a >>> 28 !== 0xe;
  }
  return pkt.srcIp !== '::' && !pkt.srcIp.startsWith('ff');
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
