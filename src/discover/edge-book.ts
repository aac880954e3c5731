import type { Packet } from '../dissect/packet.js';
import { markMalformed, type Message } from '../dissect/message.js';
import {
  SERVICE_FORWARD_OPEN,
  SERVICE_LARGE_FORWARD_OPEN,
} from '../dissect/protocols/cip-forward-open.js';
import { IoConnections, MAX_IO_CONNECTIONS, type IoScope } from './io-connections.js';
import { isIndustrialIndex, PROTOCOL_INDEX } from '../dissect/registry.js';
import type { Edge, FunctionStats, TargetRanges } from './model.js';
import { MAX_RANGES, RangeSet } from './ranges.js';
import { IDENTITY_PROTOCOLS, serviceName } from './services.js';
import { EdgeTable, edgeId, type EdgeAddress, type EdgeTransport } from './edge-table.js';
import { PollTimer } from './polling.js';
import { anomalyKind } from './anomaly-kind.js';
import { addBounded, countCapped, LIMITS, type Capped } from './merge.js';
import { orderedStates } from './read-out.js';
import type { RoleEdge } from './roles.js';

/**
 * One conversation, kept compact (its own fields are its address, so consumers sharing the edge lookup get it
 * without another object); the Edge record is built when the inventory is read. A plant holds a million of
 * these, so what most edges carry once (one protocol, one function, one address space) is held bare rather than
 * in a list of one, lists of protocols are shared, and the id is joined only when asked.
 */
export class EdgeState implements EdgeAddress {
  /** Protocols carried, in the order seen: a shared list (see protocolList), never written in place. */
  protocols: readonly string[] | null = null;
  packets = 0;
  bytes = 0;
  /**
   * Initialised with a number, not left to the constructor: a class field declared bare is defined as undefined
   * first, so V8 would keep it as a tagged field and box a fresh heap number on every packet's store.
   */
  lastSeen = 0;
  requests = 0;
  responses = 0;
  /** Malformed PDUs seen and their kinds, allocated on the first (most edges never carry one). */
  anomaly: AnomalyTally | null = null;
  /**
   * Functions seen, allocated on the first message (most edges of a scan or flood never carry one): the one
   * function bare, more in a short list searched in order (a map per edge costs far more).
   */
  funcs: FunctionStats | FunctionStats[] | null = null;
  /** Address ranges read and written per space, each set allocated on first use: one space bare, more in a list. */
  targets: SpaceRanges | SpaceRanges[] | null = null;
  /** Allocated on the first industrial request. */
  poll: PollTimer | null = null;
  /** Per-edge state of a consumer riding on this inventory's edge lookup (the detection engine). */
  slot: unknown = undefined;
  /** Changed since the last takeDelta. */
  dirty = true;

  constructor(
    readonly client: string,
    readonly server: string,
    readonly port: number,
    readonly proto: number,
    public protocol: string,
    readonly firstSeen: number,
    /** Creation order across files (see EdgeBook.seqBase): merged shards sort ties as one table would. */
    readonly seq: number,
  ) {
    this.lastSeen = firstSeen;
  }

  /** From the IP protocol, as the table named it: a field less on every edge. */
  get transport(): EdgeTransport {
    return this.proto === 6 ? 'tcp' : this.proto === 17 ? 'udp' : 'ip';
  }

  get id(): string {
    return edgeId(this.client, this.server, this.transport, this.port, this.proto);
  }
}

/**
 * The ranges of one address space of an edge. A class, not an object literal: V8 tracks a literal's allocation
 * site and, once it sees these (which live as long as their edge) survive, switches the site to old-space
 * allocation and throws away the optimised code that inlined it: the whole EdgeBook.onMessage, compiled again
 * (about 0.1 CPU s of a million-frame pass). A `new` has no allocation site. The same holds for AnomalyTally.
 */
class SpaceRanges {
  read: RangeSet | null = null;
  write: RangeSet | null = null;
  constructor(readonly space: string) {}
}

/** An edge's malformed PDUs and their kinds (a class for the reason given at SpaceRanges). */
class AnomalyTally {
  count = 0;
  readonly kinds: string[] = newList();
}

/** The edge of the packet just seen, for consumers that share the inventory's per-packet edge lookup. */
export interface CurrentEdge {
  addr: EdgeAddress;
  toServer: boolean;
  slot: unknown;
}

/**
 * An Edge record with what merging the records of several shards needs to order them as one table would:
 * its IP protocol, whether its addresses are IPv4, and its creation order.
 */
export interface EdgeRecord {
  edge: Edge;
  proto: number;
  v4: boolean;
  seq: number;
}

/**
 * The edge half of the inventory: conversations, their functions, ranges, polling and anomalies, and the
 * EtherNet/IP I/O connections. Everything here is per address pair, so the edges of different pairs can be
 * kept by different workers (src/discover/shard.ts) and merged: they are disjoint.
 */
export class EdgeBook {
  private readonly edges = new EdgeTable<EdgeState>((addr, pkt) =>
    this.newEdge(addr, pkt.ts, pkt.frame),
  );
  /** Edge of the packet being processed: its messages arrive right after it. */
  private current: EdgeState | undefined;
  /** The protocol of the last request and its PROTOCOL_INDEX. */
  private lastProto = '';
  private lastIndex = 0;
  private edgeCount = 0;
  /** Added to a new edge's frame number for its creation order: a later file's frames count on from here. */
  seqBase = 0;
  /** EtherNet/IP I/O connections opened by the Forward_Opens seen. */
  readonly io: IoConnections;

  /**
   * `maxIoConnections`: the I/O connection table's bound (a shard's share of it in a sharded run); `ioScope`:
   * which I/O it keeps (a shard worker: point-to-point only).
   */
  constructor(
    private readonly maxEdges: number,
    private readonly capped: Capped,
    maxIoConnections = MAX_IO_CONNECTIONS,
    ioScope: IoScope = 'all',
  ) {
    this.io = new IoConnections(maxIoConnections, capped, ioScope);
  }

  get size(): number {
    return this.edgeCount;
  }

  /** Forget the current edge (a frame that is no edge's). */
  clear(): void {
    this.current = undefined;
  }

  /**
   * The edge of a host's IP packet (not a non-first fragment); `srcTracked`: its sender is an inventory
   * asset (an untracked sender starts no edge).
   */
  onPacket(pkt: Packet, srcTracked: boolean): void {
    // A full edge table starts no edge either, and says so.
    const e = this.edges.find(pkt, srcTracked && this.edgeCount < this.maxEdges);
    if (e === undefined) {
      this.current = undefined;
      if (srcTracked) countCapped(this.capped, 'edges_not_tracked');
      return;
    }
    e.packets++;
    e.bytes += pkt.wireLen;
    e.lastSeen = pkt.ts;
    e.dirty = true;
    this.current = e;
  }

  /**
   * A host's IPv4 packet (not a non-first fragment) of an edge another worker keeps: its server end, made
   * known here, orients same-port peers as one table would.
   */
  noteServer(src4: number, dst4: number, proto: number, srcPort: number, dstPort: number): void {
    this.edges.noteServer(src4, dst4, proto, srcPort, dstPort);
  }

  /** A server end (serverEndKey) the main thread worked out from a packet another shard keeps. */
  noteServerKey(k: number): void {
    this.edges.noteServerKey(k);
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

  /**
   * The current packet's edge itself (its address and the consumer slot on it; undefined as for currentEdge),
   * for a consumer that reads it on every packet: no CurrentEdge filled (three stores a packet, each with
   * V8's write barrier), and the consumer sets `slot` on it directly. The detection engine's per-packet read.
   */
  currentState(): (EdgeAddress & { slot: unknown }) | undefined {
    return this.current;
  }

  /** Direction of the current packet on its edge (with currentState). */
  currentToServer(): boolean {
    return this.edges.toServer;
  }

  /** Store a consumer's per-edge state on the current packet's edge. */
  setCurrentSlot(value: unknown): void {
    if (this.current !== undefined) this.current.slot = value;
  }

  private readonly cur: CurrentEdge = {
    addr: null as unknown as EdgeAddress,
    toServer: true,
    slot: undefined,
  };

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

  /** EtherNet/IP I/O bookkeeping: before anyone else reads the message (it may mark it malformed). */
  onMessageFirst(m: Message): void {
    if (
      m.funcName === 'IO' ||
      m.func === SERVICE_FORWARD_OPEN ||
      m.func === SERVICE_LARGE_FORWARD_OPEN
    )
      this.ioConnection(m);
  }

  /** A message's functions, ranges, polling and anomalies, on the edge of its packet. */
  onMessage(m: Message): void {
    if (m.transport === 'l2') return;
    const es = this.current;
    if (es === undefined) return;
    if (es.protocols === null || !es.protocols.includes(m.protocol))
      this.addProtocol(es, m.protocol);

    // Lists start at their exact size ([x], not [] then push, which reserves 17 slots): a million edges
    // each carrying one function, one protocol and one address space is a plant-sized inventory.
    const funcs = es.funcs;
    let f: FunctionStats | undefined;
    if (funcs === null) f = es.funcs = newFunction(m);
    else if (!Array.isArray(funcs)) {
      if (funcs.func === m.func && funcs.protocol === m.protocol) f = funcs;
      else if (LIMITS.functions > 1) es.funcs = pairOf(funcs, (f = newFunction(m)));
    } else {
      f = findFunction(funcs, m.protocol, m.func);
      if (f === undefined && funcs.length < LIMITS.functions) funcs.push((f = newFunction(m)));
    }
    if (f !== undefined) {
      f.count++;
      if (m.write && m.role !== 'response') f.writes++;
      if (m.exception !== -1) f.exceptions++;
    } else countCapped(this.capped, 'edge_functions');
    if (m.anomaly !== null) {
      const a = (es.anomaly ??= new AnomalyTally());
      a.count++;
      addBounded(
        a.kinds,
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
        let sr =
          spaces === null
            ? undefined
            : Array.isArray(spaces)
              ? findSpace(spaces, t.space)
              : spaces.space === t.space
                ? spaces
                : undefined;
        if (sr === undefined) {
          const n = spaces === null ? 0 : Array.isArray(spaces) ? spaces.length : 1;
          if (n >= LIMITS.spaces) {
            countCapped(this.capped, 'edge_address_spaces');
            continue;
          }
          sr = new SpaceRanges(t.space);
          if (spaces === null) es.targets = sr;
          else if (Array.isArray(spaces)) spaces.push(sr);
          else es.targets = pairOf(spaces, sr);
        }
        const set = m.write
          ? (sr.write ??= new RangeSet(MAX_RANGES))
          : (sr.read ??= new RangeSet(MAX_RANGES));
        if (!set.add(t.start, t.count)) countCapped(this.capped, 'edge_address_ranges');
      }
    }
    // The protocol's index only for requests (a keyed lookup by name on every message cost ~1% of a pass), and
    // looked up only when the protocol differs from the last request's.
    let pidx = 0;
    if (m.role === 'request') {
      if (m.protocol !== this.lastProto) {
        this.lastProto = m.protocol;
        this.lastIndex = PROTOCOL_INDEX[m.protocol] ?? 0;
      }
      pidx = this.lastIndex;
    }
    if (m.role === 'request' && isIndustrialIndex(pidx)) {
      const start = targets !== null && targets.length > 0 ? targets[0]!.start : 0;
      (es.poll ??= new PollTimer()).request(
        (pidx * 256 + (m.func & 0xff)) * 16777216 + (start & 0xffffff),
        m.ts,
      );
    }
  }

  /** Fresh Edge records, in the table's order (only the changed ones with `changedOnly`). */
  records(changedOnly: boolean): EdgeRecord[] {
    const out: EdgeRecord[] = [];
    for (const es of this.edges.values()) {
      if (changedOnly && !es.dirty) continue;
      out.push({ edge: edgeOut(es), proto: es.proto, v4: isV4(es.server), seq: es.seq });
    }
    return out;
  }

  /** Fresh Edge records in the table's order, without the merge keys (one inventory's own read-out). */
  edgeList(changedOnly: boolean): Edge[] {
    const out: Edge[] = [];
    for (const es of this.edges.values()) if (!changedOnly || es.dirty) out.push(edgeOut(es));
    return out;
  }

  /** After a delta was taken: counters and lists start over (merging into a store adds them up). */
  resetDelta(): void {
    for (const es of this.edges.values()) if (es.dirty) restartEdge(es);
  }

  /** The edge states in the table's order (for a read-out that builds each record as it is taken). */
  states(): Iterable<EdgeState> {
    return this.edges.values();
  }

  /** The Edge record of one state. */
  build(es: EdgeState): Edge {
    return edgeOut(es);
  }

  /** What role inference reads of one state, without building its record. */
  roleView(es: EdgeState): RoleEdge {
    return new StateRoleView(es);
  }

  /**
   * The changed edges in address order, each record built and its counters restarted as it is taken (a store
   * merge of any size); an edge not taken stays changed for the next delta.
   */
  takeDeltaStream(): Iterable<Edge> {
    const dirty: EdgeState[] = [];
    for (const es of this.edges.values()) if (es.dirty) dirty.push(es);
    return (function* () {
      for (const es of orderedStates(dirty)) {
        const e = edgeOut(es);
        restartEdge(es);
        yield e;
      }
    })();
  }

  private newEdge(addr: EdgeAddress, ts: number, frame: number): EdgeState {
    this.edgeCount++;
    const { client, server, transport, port, proto } = addr;
    const protocol =
      transport === 'ip'
        ? ipProtoName(proto)
        : (serviceName(transport, port) ?? `${transport}/${port}`);
    return new EdgeState(client, server, port, proto, protocol, ts, this.seqBase + frame);
  }

  private addProtocol(es: EdgeState, protocol: string): void {
    const protocols = protocolList(es.protocols, protocol);
    es.protocols = protocols;
    if (IDENTITY_PROTOCOLS.has(protocol)) return;
    // The first industrial protocol names the edge (ENIP carries CIP: keep 'enip').
    if (!protocols.some((p) => p !== protocol && !IDENTITY_PROTOCOLS.has(p)))
      es.protocol = protocol;
  }
}

/**
 * The records of several shards in the order one EdgeTable would list them (EdgeTable.values): IPv4 edges
 * first, by IP protocol, grouped by server end (server address and port, the groups in the order they were
 * first created), each group in creation order; then the others in creation order. The address sort of the
 * read-out keeps this order for ties, and the serves/uses lists of assets follow it.
 */
export function mergeEdgeRecords(parts: EdgeRecord[][]): Edge[] {
  const all = parts.flat();
  const groupKey = (r: EdgeRecord): string => `${r.proto}|${r.edge.server}|${r.edge.port}`;
  const groupSeq = new Map<string, number>();
  for (const r of all) {
    if (!r.v4) continue;
    const k = groupKey(r);
    const g = groupSeq.get(k);
    if (g === undefined || r.seq < g) groupSeq.set(k, r.seq);
  }
  const keyed = all.map((r) => ({ r, g: r.v4 ? groupSeq.get(groupKey(r))! : 0 }));
  keyed.sort((a, b) => {
    if (a.r.v4 !== b.r.v4) return a.r.v4 ? -1 : 1;
    if (a.r.v4) {
      if (a.r.proto !== b.r.proto) return a.r.proto - b.r.proto;
      if (a.g !== b.g) return a.g - b.g;
    }
    return a.r.seq - b.r.seq;
  });
  return keyed.map((k) => k.r.edge);
}

/** An edge's delta was taken: its counters and lists restart. */
function restartEdge(es: EdgeState): void {
  es.packets = 0;
  es.bytes = 0;
  es.requests = 0;
  es.responses = 0;
  es.anomaly = null;
  es.funcs = null;
  es.targets = null;
  es.dirty = false;
}

function isV4(ip: string): boolean {
  return !ip.includes(':');
}

/**
 * Lists an edge keeps, built out of line: once per edge at most, far too rarely for TurboFan to inline into the
 * per-message hook, so the allocation sites of their literals (see SpaceRanges) stay out of it.
 */
function pairOf<T>(a: T, b: T): T[] {
  return [a, b];
}

function newList(): string[] {
  return [];
}

function newFunction(m: Message): FunctionStats {
  return {
    protocol: m.protocol,
    func: m.func,
    name: m.funcName,
    count: 0,
    writes: 0,
    exceptions: 0,
  };
}

/** Distinct protocol lists shared at most; past it an edge gets a list of its own (odd traffic stays bounded). */
export const MAX_SHARED_PROTOCOL_LISTS = 4096;
const sharedLists = new Map<string, readonly string[]>();

/**
 * `list` with `protocol` appended, as a shared list: a million edges carrying Modbus share one ['modbus'].
 * Shared lists are frozen, so no edge can change another's.
 */
export function protocolList(list: readonly string[] | null, protocol: string): readonly string[] {
  const key = list === null ? protocol : `${list.join('\0')}\0${protocol}`;
  let shared = sharedLists.get(key);
  if (shared === undefined) {
    shared = Object.freeze(list === null ? [protocol] : [...list, protocol]);
    if (sharedLists.size < MAX_SHARED_PROTOCOL_LISTS) sharedLists.set(key, shared);
  }
  return shared;
}

/** Distinct protocol lists shared now (bounded by MAX_SHARED_PROTOCOL_LISTS). */
export function sharedProtocolLists(): number {
  return sharedLists.size;
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

/**
 * An edge state as role inference reads it (roles.ts RoleEdge): the counters are the state's, the functions in
 * record order and the polling period computed only when asked (an asset's industrial client edges).
 */
class StateRoleView implements RoleEdge {
  constructor(private readonly es: EdgeState) {}
  get client(): string {
    return this.es.client;
  }
  get server(): string {
    return this.es.server;
  }
  get transport(): EdgeTransport {
    return this.es.transport;
  }
  get port(): number {
    return this.es.port;
  }
  get protocol(): string {
    return this.es.protocol;
  }
  get protocols(): readonly string[] {
    return this.es.protocols ?? NO_PROTOCOLS;
  }
  get packets(): number {
    return this.es.packets;
  }
  get requests(): number {
    return this.es.requests;
  }
  get responses(): number {
    return this.es.responses;
  }
  get functions(): readonly FunctionStats[] {
    const funcs = this.es.funcs;
    return funcs === null
      ? NO_FUNCTIONS
      : Array.isArray(funcs)
        ? sortFunctions([...funcs])
        : [funcs];
  }
  get pollInterval(): number | null {
    return this.es.poll?.period()?.median ?? null;
  }
}

const NO_PROTOCOLS: readonly string[] = Object.freeze([]);
const NO_FUNCTIONS: readonly FunctionStats[] = Object.freeze([]);

/** Functions in record order: by protocol, then function code. */
function sortFunctions(fs: FunctionStats[]): FunctionStats[] {
  return fs.sort((x, y) =>
    x.protocol < y.protocol ? -1 : x.protocol > y.protocol ? 1 : x.func - y.func,
  );
}

/** The Edge record of a state: functions, ranges and the polling estimate filled in. */
function edgeOut(es: EdgeState): Edge {
  const funcs = es.funcs;
  const functions: FunctionStats[] =
    funcs === null
      ? []
      : Array.isArray(funcs)
        ? sortFunctions(funcs.map(copyFunction))
        : [copyFunction(funcs)];
  const targets: TargetRanges[] = [];
  if (es.targets !== null) {
    if (Array.isArray(es.targets)) for (const t of es.targets) addTargets(targets, t);
    else addTargets(targets, es.targets);
  }
  const poll = es.poll;
  const p = poll === null ? null : poll.period();
  return {
    id: es.id,
    client: es.client,
    server: es.server,
    transport: es.transport,
    port: es.port,
    protocol: es.protocol,
    protocols: es.protocols !== null ? es.protocols.slice() : [],
    packets: es.packets,
    bytes: es.bytes,
    firstSeen: es.firstSeen,
    lastSeen: es.lastSeen,
    functions,
    targets,
    requests: es.requests,
    responses: es.responses,
    pollInterval: p === null ? null : p.median,
    pollJitter: p === null ? null : p.iqr,
    maxRequestGap: poll !== null ? Math.round(poll.maxGap * 1e6) / 1e6 : 0,
    anomalies: es.anomaly !== null ? es.anomaly.count : 0,
    anomalyKinds: es.anomaly !== null ? es.anomaly.kinds.slice() : [],
  };
}

function copyFunction(f: FunctionStats): FunctionStats {
  return {
    protocol: f.protocol,
    func: f.func,
    name: f.name,
    count: f.count,
    writes: f.writes,
    exceptions: f.exceptions,
  };
}

function addTargets(out: TargetRanges[], { space, read, write }: SpaceRanges): void {
  const rr = read?.toArray() ?? [],
    wr = write?.toArray() ?? [];
  if (rr.length) out.push({ space, access: 'read', ranges: rr });
  if (wr.length) out.push({ space, access: 'write', ranges: wr });
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
