import type { Packet } from '../dissect/packet.js';
import { serverIsDst } from './services.js';

export type EdgeTransport = 'tcp' | 'udp' | 'ip';

/** Entries of the lookup cache (a power of two) and the hash shift that indexes them. */
const SLOTS = 1 << 11;
const SHIFT = 21;

/** Where a packet sits on the communication map: its edge's identity and which way it travels. */
export interface EdgeAddress {
  readonly id: string;
  readonly client: string;
  readonly server: string;
  readonly transport: EdgeTransport;
  /** Server port (0 for IP protocols without ports). */
  readonly port: number;
  /** IP protocol number. */
  readonly proto: number;
}

/**
 * Maps packets to per-edge state (client → server, transport, server port) with numeric keys for IPv4, so the
 * per-packet lookup allocates nothing once the edge exists. `toServer` tells the direction of the last lookup.
 */
export class EdgeTable<T> {
  private readonly byProto: (Map<number, Clients<T>> | undefined)[] = new Array(256);
  private readonly text = new Map<string, T>();
  /** IPv4 server endpoints (ip * 65536 + port) seen on edges with distinct ports, to orient same-port peers. */
  private readonly servers = new Set<number>();
  toServer = true;
  // Recent IPv4 lookups, direct-mapped by packet header (protocol, addresses, ports) → edge and direction:
  // the flows of a plant repeat, so most packets end here without the two map lookups on 48-bit keys (which box
  // the key on every packet). A same-port peer's direction depends on the servers known when it was looked up,
  // so its entry holds the size of that set (which only grows) and is stale once the set grew. Edges are never
  // removed, so a cached one stays valid.
  private readonly cEdge: (T | undefined)[] = new Array<T | undefined>(SLOTS).fill(undefined);
  private readonly cSrc = new Uint32Array(SLOTS);
  private readonly cDst = new Uint32Array(SLOTS);
  private readonly cPorts = new Uint32Array(SLOTS);
  private readonly cProto = new Uint8Array(SLOTS);
  private readonly cToServer = new Uint8Array(SLOTS);
  /** servers.size when a same-port entry was cached; -1 for entries whose direction the ports decide. */
  private readonly cServers = new Int32Array(SLOTS);

  constructor(private readonly create: (addr: EdgeAddress, pkt: Packet) => T) {}

  /** The edge of an IP packet (not a non-first fragment), created on first sight. */
  lookup(pkt: Packet): T {
    return this.find(pkt, true)!;
  }

  /** The edge of an IP packet, created on first sight only when `mayCreate` (a full table tracks no more). */
  find(pkt: Packet, mayCreate: boolean): T | undefined {
    if (pkt.ipVersion !== 4) return this.findSlow(pkt, mayCreate);
    const proto = pkt.ipProto,
      src = pkt.srcIp4,
      dst = pkt.dstIp4,
      sp = pkt.srcPort,
      dp = pkt.dstPort;
    const ports = ((sp << 16) | dp) >>> 0;
    const i = Math.imul(src ^ Math.imul(dst, 0x85ebca6b) ^ ports ^ proto, 0x9e3779b1) >>> SHIFT;
    const hit = this.cEdge[i];
    if (
      hit !== undefined &&
      this.cSrc[i] === src &&
      this.cDst[i] === dst &&
      this.cPorts[i] === ports &&
      this.cProto[i] === proto &&
      (this.cServers[i] === -1 || this.cServers[i] === this.servers.size)
    ) {
      this.toServer = this.cToServer[i] === 1;
      return hit;
    }
    const v = this.findSlow(pkt, mayCreate);
    if (v !== undefined) {
      this.cEdge[i] = v;
      this.cSrc[i] = src;
      this.cDst[i] = dst;
      this.cPorts[i] = ports;
      this.cProto[i] = proto;
      this.cToServer[i] = this.toServer ? 1 : 0;
      this.cServers[i] = sp === dp && (proto === 6 || proto === 17) ? this.servers.size : -1;
    }
    return v;
  }

  private findSlow(pkt: Packet, mayCreate: boolean): T | undefined {
    const proto = pkt.ipProto;
    let transport: EdgeTransport = 'ip';
    let toServer = true,
      port = 0;
    if (proto === 6 || proto === 17) {
      transport = proto === 6 ? 'tcp' : 'udp';
      toServer =
        pkt.srcPort === pkt.dstPort
          ? this.samePortToServer(pkt)
          : serverIsDst(transport, pkt.srcPort, pkt.dstPort);
      port = toServer ? pkt.dstPort : pkt.srcPort;
    }
    this.toServer = toServer;
    if (pkt.ipVersion === 4) {
      let byServer = this.byProto[proto];
      if (byServer === undefined) {
        byServer = new Map();
        this.byProto[proto] = byServer;
      }
      const k1 = (toServer ? pkt.dstIp4 : pkt.srcIp4) * 65536 + port;
      const inner = byServer.get(k1);
      const k2 = toServer ? pkt.srcIp4 : pkt.dstIp4;
      let v = inner === undefined ? undefined : clientEdge(inner, k2);
      if (v === undefined) {
        if (!mayCreate) return undefined;
        v = this.create(address(pkt, transport, port, proto, toServer), pkt);
        if (inner === undefined) byServer.set(k1, [k2 | 0, v]);
        else if (inner instanceof Map) inner.set(k2 | 0, v);
        // A list grown by push reserves half again plus 16 slots: copied at its exact size instead.
        else if (inner.length < 2 * FEW_CLIENTS) byServer.set(k1, inner.concat(k2 | 0, v));
        else {
          const m = new Map<number, T>();
          for (let i = 0; i < inner.length; i += 2) m.set(inner[i] as number, inner[i + 1] as T);
          m.set(k2 | 0, v);
          byServer.set(k1, m);
        }
      }
      // Every packet to or from an ephemeral port shows who serves (not only an edge's first: a same-port
      // exchange may have opened it), so the set is the same whichever thread saw which edge first.
      if (transport !== 'ip' && pkt.srcPort !== pkt.dstPort) this.servers.add(k1);
      return v;
    }
    const client = toServer ? pkt.srcIp : pkt.dstIp,
      server = toServer ? pkt.dstIp : pkt.srcIp;
    const key = `${client}|${server}|${proto}|${port}`;
    let v = this.text.get(key);
    if (v === undefined) {
      if (!mayCreate) return undefined;
      v = this.create(address(pkt, transport, port, proto, toServer), pkt);
      this.text.set(key, v);
    }
    return v;
  }

  /**
   * A packet of an edge kept elsewhere (another shard's): the server end of a port-addressed IPv4 edge becomes
   * known here as if that edge were in this table, so same-port peers are oriented as one table would.
   */
  noteServer(src4: number, dst4: number, proto: number, srcPort: number, dstPort: number): void {
    const k = serverEndKey(src4, dst4, proto, srcPort, dstPort);
    if (k >= 0) this.servers.add(k);
  }

  /** A server end (a serverEndKey) another thread worked out from a packet of an edge kept elsewhere. */
  noteServerKey(k: number): void {
    this.servers.add(k);
  }

  /**
   * Peers on the same port (DNP3 20000↔20000, BACnet 47808↔47808): the end already seen serving that port to
   * an ephemeral client is the server; otherwise the higher address, so both directions share one edge.
   */
  private samePortToServer(pkt: Packet): boolean {
    if (pkt.ipVersion !== 4) return pkt.dstIp >= pkt.srcIp;
    const d = this.servers.has(pkt.dstIp4 * 65536 + pkt.dstPort),
      s = this.servers.has(pkt.srcIp4 * 65536 + pkt.srcPort);
    return d !== s ? d : pkt.dstIp4 >= pkt.srcIp4;
  }

  *values(): Iterable<T> {
    for (const m of this.byProto)
      if (m)
        for (const inner of m.values())
          if (inner instanceof Map) yield* inner.values();
          else for (let i = 1; i < inner.length; i += 2) yield inner[i] as T;
    yield* this.text.values();
  }
}

/**
 * The server end (ip * 65536 + port) an IPv4 packet between distinct TCP or UDP ports shows, or -1: what
 * noteServer records, computable wherever the packet is routed.
 */
export function serverEndKey(
  src4: number,
  dst4: number,
  proto: number,
  srcPort: number,
  dstPort: number,
): number {
  if ((proto !== 6 && proto !== 17) || srcPort === dstPort) return -1;
  return serverIsDst(proto === 6 ? 'tcp' : 'udp', srcPort, dstPort)
    ? dst4 * 65536 + dstPort
    : src4 * 65536 + srcPort;
}

/**
 * The edges of one IPv4 server end by client address: a few as a flat [client, edge, …] list in the order seen
 * (a map each for 100,000 servers of a handful of clients was a tenth of a plant-sized inventory), a map past
 * FEW_CLIENTS (insertion order kept, so the table lists edges alike either way). Client keys as int32 (`| 0`),
 * which stay small integers in a list where uint32 above 2^31 would be boxed.
 */
type Clients<T> = Map<number, T> | (number | T)[];
const FEW_CLIENTS = 16;

function clientEdge<T>(c: Clients<T>, client: number): T | undefined {
  const k = client | 0;
  if (c instanceof Map) return c.get(k);
  for (let i = 0; i < c.length; i += 2) if (c[i] === k) return c[i + 1] as T;
  return undefined;
}

function address(
  pkt: Packet,
  transport: EdgeTransport,
  port: number,
  proto: number,
  toServer: boolean,
): EdgeAddress {
  return toServer
    ? new Address(pkt.srcIp, pkt.dstIp, transport, port, proto)
    : new Address(pkt.dstIp, pkt.srcIp, transport, port, proto);
}

/**
 * An edge's address with its id joined when first asked: the inventory copies the parts into its own edge state
 * and never asks (a million ids held as text were a tenth of a plant-sized inventory); other tables ask once.
 */
class Address implements EdgeAddress {
  private text: string | undefined = undefined;
  constructor(
    readonly client: string,
    readonly server: string,
    readonly transport: EdgeTransport,
    readonly port: number,
    readonly proto: number,
  ) {}

  get id(): string {
    return (this.text ??= edgeId(this.client, this.server, this.transport, this.port, this.proto));
  }
}

export function edgeId(
  client: string,
  server: string,
  transport: EdgeTransport,
  port: number,
  proto: number,
): string {
  // Joined, not a template literal: that leaves a rope of five nodes (about 160 bytes), and an edge keeps its
  // id for its whole life; a join yields the same text as one flat string.
  return transport === 'ip'
    ? [client, '>', server, '/ip/', proto].join('')
    : [client, '>', server, '/', transport, '/', port].join('');
}
