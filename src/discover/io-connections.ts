import type { Message } from '../dissect/message.js';
import { countCapped, type Capped } from './merge.js';

/**
 * Connection directions kept before a table is reset. A sharded run gives each shard its share of the
 * point-to-point table (the keys are per address pair), so one thread's reset means some shard's (see
 * ShardedRun): the run then reads again on one. The group table is held whole by the main thread (IoScope).
 */
export const MAX_IO_CONNECTIONS = 8192;

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** One direction of a class 0/1 I/O connection, as its Forward_Open reply set it up. */
export interface IoConnection {
  /** Sender of the cyclic datagrams in this direction and the connection id they carry. */
  producer: string;
  consumer: string;
  connectionId: number;
  direction: 'O->T' | 'T->O';
  /** Actual packet interval granted in the reply (µs). */
  rpiUs: number;
  packets: number;
  /** Mean gap between this direction's datagrams (µs), 0 before the second one. */
  meanIntervalUs: number;
  lastTs: number;
  /** Encapsulation sequence number of the last datagram (-1 before one): a mirrored duplicate repeats it. */
  lastSeq: number;
  /** The most recent gaps (µs, a ring of IO_GAP_SAMPLES), allocated with the second datagram. */
  gaps: Float64Array | null;
}

/** Gaps kept per connection direction for its median and spread (a few seconds of a 10 ms connection). */
export const IO_GAP_SAMPLES = 512;

/**
 * Median and interquartile range (µs) of `n` gaps held in a ring, or null with under 3: the interval a producer
 * really keeps and how much it wanders.
 */
export function gapPeriod(
  ring: Float64Array,
  n: number,
): { medianUs: number; spreadUs: number } | null {
  const k = Math.min(n, ring.length);
  if (k < 3) return null;
  const xs = Array.from(ring.subarray(0, k)).sort((a, b) => a - b);
  const q = (p: number): number => xs[Math.min(k - 1, Math.floor(p * (k - 1) + 0.5))]!;
  return { medianUs: Math.round(q(0.5)), spreadUs: Math.round(q(0.75) - q(0.25)) };
}

/** The observed interval of one connection direction (null before three gaps). */
export function ioPeriod(c: IoConnection): { medianUs: number; spreadUs: number } | null {
  return c.gaps === null ? null : gapPeriod(c.gaps, c.packets - 1);
}

/**
 * Which I/O a table keeps. `all`: one thread's. A sharded run splits it by where the messages meet: `pair`, the
 * point-to-point I/O of the address pairs a shard worker owns (a datagram and the Forward_Open that set it up
 * are between the same two hosts); `group`, the T→O I/O a target sends to a multicast or broadcast group, whose
 * datagrams travel between the target and the group but whose Forward_Opens (one per originator sharing it)
 * travel between each originator and the target: only the main thread, which every shard hands these
 * messages, sees both in capture order (src/detect/shard-core.ts).
 */
export type IoScope = 'all' | 'pair' | 'group';

/**
 * A destination that is a group, not a host: IPv4 multicast (224.0.0.0/4), the limited broadcast, IPv6
 * multicast (ff00::/8). Read from the text on every I/O datagram, so by character codes.
 */
/** 'f' (IPv6 text is lower case): a named constant, not a number that reads like a port. */
const CHAR_F = 'f'.charCodeAt(0);

export function isGroupAddress(ip: string): boolean {
  const c0 = ip.charCodeAt(0);
  if (c0 === 50 && ip.charCodeAt(3) === 46) {
    // '2xy.': 224–239.
    const c1 = ip.charCodeAt(1),
      c2 = ip.charCodeAt(2);
    if (c1 === 50) return c2 >= 52 && c2 <= 57;
    if (c1 === 51) return c2 >= 48 && c2 <= 57;
    return ip === '255.255.255.255';
  }
  return c0 === CHAR_F && ip.charCodeAt(1) === CHAR_F && ip.includes(':');
}

/** Whether a message is group I/O or a Forward_Open reply that may set some up: what the `group` scope reads. */
export function isGroupIoMessage(m: Message): boolean {
  if (m.protocol === 'enip') return m.funcName === 'IO' && isGroupAddress(m.dstIp);
  return (
    m.protocol === 'cip' &&
    m.role === 'response' &&
    m.exception === -1 &&
    m.fields !== null &&
    typeof m.fields.ot_api_us === 'number'
  );
}

/**
 * Ties EtherNet/IP implicit I/O datagrams (UDP 2222) to the Forward_Open that set their connection up, so each
 * cyclic message is known with its granted interval and datagrams on connection ids nobody opened are counted.
 * Point-to-point I/O is keyed by producer, consumer and id: O→T ids are chosen by each target and T→O ids by
 * each originator, so one producer may use an id towards two hosts. T→O I/O to a group is keyed by producer
 * (the target, which chose that id) and id: every originator's Forward_Open sharing the connection names it.
 */
export class IoConnections {
  /** `capped`: where a reset counts the directions it forgot (`io_connections`); `scope`: see IoScope. */
  constructor(
    private readonly max = MAX_IO_CONNECTIONS,
    private readonly capped: Capped = {},
    private readonly scope: IoScope = 'all',
  ) {}

  /** Point-to-point directions by `producer|consumer|id`. */
  private readonly byPair = new Map<string, IoConnection>();
  /** Host pairs a Forward_Open reply was seen between: only there is an unknown id out of place. */
  private readonly pairs = new Set<string>();
  /** T→O directions as a group's datagrams name them, by `producer|id` (the latest Forward_Open's). */
  private readonly byGroup = new Map<string, IoConnection>();
  /** Datagrams whose connection id no Forward_Open seen set up (a capture starting mid-connection, or injection). */
  unknown = 0;

  /**
   * Feed every message; returns the connection an I/O datagram belongs to, null when its id is unknown between
   * hosts whose connections were seen being opened (spoofed or injected I/O), undefined otherwise (not I/O, I/O
   * outside this table's scope, or hosts whose Forward_Open came before the capture).
   */
  onMessage(m: Message): IoConnection | null | undefined {
    const f = m.fields;
    if (f === null) return undefined;
    if (m.protocol === 'cip' && m.role === 'response' && m.exception === -1) {
      if (typeof f.ot_api_us !== 'number' || typeof f.to_connection_id !== 'number')
        return undefined;
      // The reply travels target → originator. O→T is point-to-point on EtherNet/IP; T→O may go to a group.
      const toId = f.to_connection_id,
        toUs = Number(f.to_api_us);
      if (this.scope !== 'group') {
        this.addPair(m.dstIp, m.srcIp, Number(f.ot_connection_id), 'O->T', f.ot_api_us);
        this.addPair(m.srcIp, m.dstIp, toId, 'T->O', toUs);
      }
      if (this.scope !== 'pair') this.addGroup(m.srcIp, m.dstIp, toId, toUs);
      return undefined;
    }
    if (m.protocol !== 'enip' || m.funcName !== 'IO' || typeof f.connection_id !== 'number')
      return undefined;
    const group = isGroupAddress(m.dstIp);
    if (group ? this.scope === 'pair' : this.scope === 'group') return undefined;
    // No Forward_Open seen (most captures begin mid-connection): no key to build (pairs fill with byPair).
    if (this.byPair.size === 0 && this.byGroup.size === 0) {
      this.unknown++;
      return undefined;
    }
    const c = group
      ? this.byGroup.get(`${m.srcIp}|${f.connection_id}`)
      : this.byPair.get(`${m.srcIp}|${m.dstIp}|${f.connection_id}`);
    if (c === undefined) {
      this.unknown++;
      // No Forward_Open travels between a host and a group: its unknown ids are not out of place.
      return !group && this.pairs.has(pair(m.srcIp, m.dstIp)) ? null : undefined;
    }
    // A duplicate (a SPAN port mirroring both directions of a link) is the same datagram: not counted twice.
    const seq = typeof f.sequence === 'number' ? f.sequence : -1;
    if (c.packets > 0 && seq !== -1 && seq === c.lastSeq) return c;
    c.lastSeq = seq;
    if (c.packets > 0) {
      const gap = (m.ts - c.lastTs) * 1e6;
      c.meanIntervalUs += (gap - c.meanIntervalUs) / c.packets;
      (c.gaps ??= new Float64Array(IO_GAP_SAMPLES))[(c.packets - 1) % IO_GAP_SAMPLES] = gap;
    }
    c.packets++;
    c.lastTs = m.ts;
    return c;
  }

  /** No connection and no host pair known yet: onMessage answers undefined for every datagram (only counts it). */
  get empty(): boolean {
    return this.byPair.size === 0 && this.pairs.size === 0 && this.byGroup.size === 0;
  }

  /** Every direction known, point-to-point then group (a group's has packets only where its I/O went to one). */
  connections(): IoConnection[] {
    return [...this.byPair.values(), ...this.byGroup.values()];
  }

  private addPair(
    producer: string,
    consumer: string,
    connectionId: number,
    direction: IoConnection['direction'],
    rpiUs: number,
  ): void {
    // Bounded: a flood of Forward_Open replies must not grow memory without end; what is forgotten is counted.
    if (this.byPair.size >= this.max) {
      countCapped(this.capped, 'io_connections', this.byPair.size);
      this.byPair.clear();
      this.pairs.clear();
    }
    this.pairs.add(pair(producer, consumer));
    this.byPair.set(
      `${producer}|${consumer}|${connectionId}`,
      newConnection(producer, consumer, connectionId, direction, rpiUs),
    );
  }

  /** A T→O direction as datagrams to a group would name it; a later originator's reply replaces it. */
  private addGroup(producer: string, consumer: string, connectionId: number, rpiUs: number): void {
    // Its own bound: each reply adds one here and two point-to-point, so that table always resets first.
    if (this.byGroup.size >= this.max) {
      countCapped(this.capped, 'io_connections', this.byGroup.size);
      this.byGroup.clear();
    }
    this.byGroup.set(
      `${producer}|${connectionId}`,
      newConnection(producer, consumer, connectionId, 'T->O', rpiUs),
    );
  }
}

function newConnection(
  producer: string,
  consumer: string,
  connectionId: number,
  direction: IoConnection['direction'],
  rpiUs: number,
): IoConnection {
  return {
    producer,
    consumer,
    connectionId,
    direction,
    rpiUs,
    packets: 0,
    meanIntervalUs: 0,
    lastTs: 0,
    lastSeq: -1,
    gaps: null,
  };
}
