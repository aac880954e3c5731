import type { Message } from '../dissect/message.js';
import { countCapped, type Capped } from './merge.js';

/**
 * Connection directions kept before the table is reset. A sharded run gives each shard its share (the keys are
 * per address pair), so one thread's reset means some shard's (see ShardedRun): the run then reads again on one.
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
 * Ties EtherNet/IP implicit I/O datagrams (UDP 2222) to the Forward_Open that set their connection up, so each
 * cyclic message is known with its granted interval and datagrams on connection ids nobody opened are counted.
 * Ids are scoped by producer: O→T datagrams come from the originator, T→O ones from the target.
 */
export class IoConnections {
  /** `capped`: where a reset counts the directions it forgot (`io_connections`). */
  constructor(
    private readonly max = MAX_IO_CONNECTIONS,
    private readonly capped: Capped = {},
  ) {}

  private readonly byKey = new Map<string, IoConnection>();
  /** Host pairs a Forward_Open reply was seen between: only there is an unknown id out of place. */
  private readonly pairs = new Set<string>();
  /** Datagrams whose connection id no Forward_Open seen set up (a capture starting mid-connection, or injection). */
  unknown = 0;

  /**
   * Feed every message; returns the connection an I/O datagram belongs to, null when its id is unknown between
   * hosts whose connections were seen being opened (spoofed or injected I/O), undefined otherwise (not I/O, or
   * hosts whose Forward_Open came before the capture).
   */
  onMessage(m: Message): IoConnection | null | undefined {
    const f = m.fields;
    if (f === null) return undefined;
    if (m.protocol === 'cip' && m.role === 'response' && m.exception === -1) {
      if (typeof f.ot_api_us !== 'number' || typeof f.to_connection_id !== 'number')
        return undefined;
      // The reply travels target → originator.
      this.add(m.dstIp, m.srcIp, Number(f.ot_connection_id), 'O->T', f.ot_api_us);
      this.add(m.srcIp, m.dstIp, f.to_connection_id, 'T->O', Number(f.to_api_us));
      return undefined;
    }
    if (m.protocol !== 'enip' || m.funcName !== 'IO' || typeof f.connection_id !== 'number')
      return undefined;
    const c = this.byKey.get(`${m.srcIp}|${f.connection_id}`);
    if (c === undefined) {
      this.unknown++;
      return this.pairs.has(pair(m.srcIp, m.dstIp)) ? null : undefined;
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
    return this.byKey.size === 0 && this.pairs.size === 0;
  }

  connections(): IoConnection[] {
    return [...this.byKey.values()];
  }

  private add(
    producer: string,
    consumer: string,
    connectionId: number,
    direction: IoConnection['direction'],
    rpiUs: number,
  ): void {
    // Bounded: a flood of Forward_Open replies must not grow memory without end; what is forgotten is counted.
    if (this.byKey.size >= this.max) {
      countCapped(this.capped, 'io_connections', this.byKey.size);
      this.byKey.clear();
      this.pairs.clear();
    }
    this.pairs.add(pair(producer, consumer));
    this.byKey.set(`${producer}|${connectionId}`, {
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
    });
  }
}
