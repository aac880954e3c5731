import type { Packet } from '../dissect/packet.js';
import { serverIsDst } from './services.js';

export type EdgeTransport = 'tcp' | 'udp' | 'ip';

/** Where a packet sits on the communication map: its edge's identity and which way it travels. */
export interface EdgeAddress {
  id: string;
  client: string;
  server: string;
  transport: EdgeTransport;
  /** Server port (0 for IP protocols without ports). */
  port: number;
  /** IP protocol number. */
  proto: number;
}

/**
 * Maps packets to per-edge state (client → server, transport, server port) with numeric keys for IPv4, so the
 * per-packet lookup allocates nothing once the edge exists. `toServer` tells the direction of the last lookup.
 */
export class EdgeTable<T> {
  private readonly byProto: (Map<number, Map<number, T>> | undefined)[] = new Array(256);
  private readonly text = new Map<string, T>();
  /** IPv4 server endpoints (ip * 65536 + port) seen on edges with distinct ports, to orient same-port peers. */
  private readonly servers = new Set<number>();
  toServer = true;
  // The last IPv4 edge found and the packet header that found it: requests and responses of one poll follow each
  // other, so most lookups end here without the two map lookups on 48-bit keys. Same-port peers are never kept
  // (their orientation can change as servers become known); edges are never removed, so a kept one stays valid.
  private lastEdge: T | undefined = undefined;
  private lastProto = -1;
  private lastSrc = 0;
  private lastDst = 0;
  private lastSrcPort = 0;
  private lastDstPort = 0;
  private lastToServer = true;

  constructor(private readonly create: (addr: EdgeAddress, pkt: Packet) => T) {}

  /** The edge of an IP packet (not a non-first fragment), created on first sight. */
  lookup(pkt: Packet): T {
    return this.find(pkt, true)!;
  }

  /** The edge of an IP packet, created on first sight only when `mayCreate` (a full table tracks no more). */
  find(pkt: Packet, mayCreate: boolean): T | undefined {
    const proto = pkt.ipProto;
    if (pkt.ipVersion === 4 && proto === this.lastProto && this.lastEdge !== undefined) {
      const sp = pkt.srcPort,
        dp = pkt.dstPort,
        src = pkt.srcIp4,
        dst = pkt.dstIp4;
      if (
        src === this.lastSrc &&
        dst === this.lastDst &&
        sp === this.lastSrcPort &&
        dp === this.lastDstPort
      ) {
        this.toServer = this.lastToServer;
        return this.lastEdge;
      }
      // The reply on a port-addressed edge is the same edge the other way.
      if (
        proto !== 6 && proto !== 17
          ? false
          : src === this.lastDst &&
            dst === this.lastSrc &&
            sp === this.lastDstPort &&
            dp === this.lastSrcPort
      ) {
        this.toServer = !this.lastToServer;
        return this.lastEdge;
      }
    }
    const v = this.findSlow(pkt, mayCreate);
    if (
      pkt.ipVersion === 4 &&
      v !== undefined &&
      (pkt.srcPort !== pkt.dstPort || (proto !== 6 && proto !== 17))
    ) {
      this.lastEdge = v;
      this.lastProto = proto;
      this.lastSrc = pkt.srcIp4;
      this.lastDst = pkt.dstIp4;
      this.lastSrcPort = pkt.srcPort;
      this.lastDstPort = pkt.dstPort;
      this.lastToServer = this.toServer;
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
      let inner = byServer.get(k1);
      const k2 = toServer ? pkt.srcIp4 : pkt.dstIp4;
      let v = inner?.get(k2);
      if (v === undefined) {
        if (!mayCreate) return undefined;
        if (inner === undefined) {
          inner = new Map();
          byServer.set(k1, inner);
        }
        v = this.create(address(pkt, transport, port, proto, toServer), pkt);
        inner.set(k2, v);
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
    if ((proto !== 6 && proto !== 17) || srcPort === dstPort) return;
    const toServer = serverIsDst(proto === 6 ? 'tcp' : 'udp', srcPort, dstPort);
    this.servers.add(toServer ? dst4 * 65536 + dstPort : src4 * 65536 + srcPort);
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
    for (const m of this.byProto) if (m) for (const inner of m.values()) yield* inner.values();
    yield* this.text.values();
  }
}

function address(
  pkt: Packet,
  transport: EdgeTransport,
  port: number,
  proto: number,
  toServer: boolean,
): EdgeAddress {
  const client = toServer ? pkt.srcIp : pkt.dstIp,
    server = toServer ? pkt.dstIp : pkt.srcIp;
  return {
    id: edgeId(client, server, transport, port, proto),
    client,
    server,
    transport,
    port,
    proto,
  };
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
