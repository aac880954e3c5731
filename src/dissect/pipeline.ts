import type { Frame } from '../capture/frame.js';
import { countKind } from '../capture/counts.js';
import { decodeFrame } from './link.js';
import { newPacket, TcpFlag, type Packet } from './packet.js';
import type { Message, PduContext } from './message.js';
import type { DatagramDissector, StreamDissector } from './protocol.js';
import type { LinkDissector } from './link-dissector.js';
import { feedSegment, newHalfStream, type TcpHalfStream } from './tcp-reassembly.js';
import { streamBindings, datagramBindings, linkBindings } from './registry.js';
import { Stages, type Stage } from './stage.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';

/**
 * Bounds of TCP reassembly (settings `dissect`): tracked half-streams (a scan or a flood of spoofed senders
 * must not grow memory without limit); seconds of silence after which a half-stream is forgotten first when
 * the table is full (pollers talk far more often); bytes all half-streams together may hold for incomplete
 * PDUs (each holds at most 64 KiB).
 */
export type DissectLimits = Settings['dissect'] & {
  /** Datagram states kept (default MAX_UDP_STATES; a sharded run gives each shard its share). */
  max_udp_states?: number;
};
/** Directions of address pairs whose datagram reassembly state is kept (oldest forgotten first). */
export const MAX_UDP_STATES = 4096;
/** Entries of the recent-stream cache (a power of two). */
const STREAM_SLOTS = 1 << 10;

function streamSlot(src: number, dst: number, ports: number): number {
  return Math.imul(src ^ Math.imul(dst, 0x85ebca6b) ^ ports, 0x9e3779b1) >>> 22;
}

export interface DissectStats {
  frames: number;
  ipPackets: number;
  tcpSegments: number;
  udpDatagrams: number;
  messages: number;
  /** Messages per protocol. */
  protocols: Record<string, number>;
  /** Counted anomalies: malformed frames, TCP gaps, PDUs that are not what their port says, … */
  anomalies: Record<string, number>;
  /** What a bound cut short, counted: anomaly kinds beyond the cap, TCP state dropped to stay bounded. */
  capped: Record<string, number>;
}

/** What the pipeline feeds: one stage or a list of them (see stage.ts). */
export type PipelineHooks = Stage;

/** Counts of a pass that has seen nothing yet (a pipeline's start; the sum of shards' counts). */
export function emptyDissectStats(): DissectStats {
  return {
    frames: 0,
    ipPackets: 0,
    tcpSegments: 0,
    udpDatagrams: 0,
    messages: 0,
    protocols: {},
    anomalies: {},
    capped: {},
  };
}

/**
 * Frame → Packet → PDUs. Owns TCP reassembly state; synchronous and allocation-light so it can sit on the
 * hot path of file reads and live capture alike.
 */
export class DissectPipeline {
  private readonly st: DissectStats = emptyDissectStats();
  /**
   * Messages per protocol, counted by slot (protocols in the order first seen) and written into
   * `stats.protocols` when the stats are read: a keyed load and store by protocol name on every message cost
   * ~3% of a pass. The last message's protocol and slot are kept, since consecutive messages mostly share one.
   */
  private readonly protoNames: string[] = [];
  private protoCounts = new Float64Array(32);
  private lastProto = '';
  private lastSlot = -1;
  private readonly malformedKinds = new Map<string, string>();
  private readonly pkt = newPacket();
  private readonly out: Message[] = [];
  private readonly ctx: PduContext = {
    frame: 0,
    ts: 0,
    transport: 'tcp',
    srcMac: '',
    dstMac: '',
    srcIp: '',
    dstIp: '',
    srcPort: 0,
    dstPort: 0,
  };
  private readonly tcpByPort: (StreamDissector | undefined)[] = new Array(65536);
  private readonly udpByPort: (DatagramDissector | undefined)[] = new Array(65536);
  /** Per address-pair state of datagram protocols whose units span datagrams (DNP3 over UDP). */
  private readonly udpState = new Map<string, Record<string, unknown>>();
  private readonly byEtherType = new Map<number, LinkDissector>();
  /** IPv4 half-streams: (srcIp,srcPort) → (dstIp,dstPort) → state. IPv6 ones under a text key. */
  private readonly streams4 = new Map<number, Map<number, TcpHalfStream>>();
  private readonly streams6 = new Map<string, TcpHalfStream>();
  private streamCount = 0;
  /**
   * Recent IPv4 half-streams, direct-mapped by addresses and ports, in front of streams4 (whose 48-bit keys are
   * boxed on every lookup). An entry goes when its stream is dropped; the whole cache when streams are swept.
   */
  private readonly recentStream: (TcpHalfStream | undefined)[] = new Array<
    TcpHalfStream | undefined
  >(STREAM_SLOTS).fill(undefined);
  private readonly recentSrc = new Uint32Array(STREAM_SLOTS);
  private readonly recentDst = new Uint32Array(STREAM_SLOTS);
  private readonly recentPorts = new Uint32Array(STREAM_SLOTS);
  /** Capacity of the pending buffers of all tracked half-streams. */
  private buffered = 0;
  private readonly countAnomaly = (what: string): void => {
    countKind(this.st.anomalies, what, this.st.capped);
  };

  /** The stages every packet and message fan out to, in the order given. */
  readonly stages: Stages;

  private readonly maxStreams: number;
  private readonly idleStream: number;
  private readonly maxBuffered: number;
  private readonly maxUdpStates: number;

  constructor(
    stages: Stage | readonly Stage[] = [],
    limits: DissectLimits = DEFAULT_SETTINGS.dissect,
  ) {
    this.maxStreams = limits.max_tcp_streams;
    this.idleStream = limits.idle_stream_s;
    this.maxBuffered = limits.max_reassembly_bytes;
    this.maxUdpStates = limits.max_udp_states ?? MAX_UDP_STATES;
    this.stages = stages instanceof Stages ? stages : new Stages(stages);
    for (const b of streamBindings) this.tcpByPort[b.key] = b.dissector;
    for (const b of datagramBindings) this.udpByPort[b.key] = b.dissector;
    for (const b of linkBindings) this.byEtherType.set(b.key, b.dissector);
  }

  /** What the pipeline saw so far (the same object on every read, brought up to date when read). */
  get stats(): DissectStats {
    const names = this.protoNames,
      counts = this.protoCounts,
      into = this.st.protocols;
    // In first-seen order, so the record's keys come out in the order the protocols appeared.
    for (let i = 0; i < names.length; i++) into[names[i]!] = counts[i]!;
    return this.st;
  }

  /** '<protocol>_malformed', joined once per protocol (a joined key is flattened and hashed on every lookup). */
  private malformedKind(p: string): string {
    let k = this.malformedKinds.get(p);
    if (k === undefined) this.malformedKinds.set(p, (k = `${p}_malformed`));
    return k;
  }

  private protoSlot(p: string): number {
    const names = this.protoNames;
    const i = names.indexOf(p);
    if (i >= 0) return i;
    if (names.length === this.protoCounts.length) {
      const grown = new Float64Array(names.length * 2);
      grown.set(this.protoCounts);
      this.protoCounts = grown;
    }
    names.push(p);
    return names.length - 1;
  }

  push(frame: Frame): void {
    const pkt = this.pkt;
    const st = this.st;
    st.frames++;
    decodeFrame(frame, pkt);
    if (pkt.anomaly !== null) this.countAnomaly(pkt.anomaly);
    this.stages.onPacket(pkt);
    const out = this.out;
    if (pkt.ipVersion !== 0) {
      st.ipPackets++;
      if (pkt.fragment) return;
      if (pkt.ipProto === 6) {
        st.tcpSegments++;
        this.tcp(pkt, out);
      } else if (pkt.ipProto === 17) {
        st.udpDatagrams++;
        this.udp(pkt, out);
      }
    } else if (pkt.etherType !== 0) {
      const d = this.byEtherType.get(pkt.etherType);
      if (d !== undefined && pkt.payloadLength > 0) {
        const ctx = this.fillContext(pkt, 'l2');
        try {
          d.dissect(pkt.data, pkt.payloadOffset, pkt.payloadLength, ctx, out);
        } catch {
          this.countAnomaly(`${d.protocol}_dissector_error`);
        }
      }
    }
    if (out.length > 0) this.emit(out);
  }

  private tcp(pkt: Packet, out: Message[]): void {
    const flags = pkt.tcpFlags;
    let d = this.tcpByPort[pkt.dstPort];
    let toServer = true;
    if (d === undefined) {
      d = this.tcpByPort[pkt.srcPort];
      toServer = false;
    }
    if (d === undefined) return;
    const closing = (flags & (TcpFlag.FIN | TcpFlag.RST)) !== 0;
    if (pkt.payloadLength === 0) {
      if (closing) this.dropStream(pkt);
      return;
    }
    const s = this.stream(pkt, d, toServer);
    s.lastTs = pkt.ts;
    const before = s.pending?.length ?? 0;
    feedSegment(
      s,
      pkt.tcpSeq,
      pkt.data,
      pkt.payloadOffset,
      pkt.payloadLength,
      this.fillContext(pkt, 'tcp'),
      out,
      this.countAnomaly,
    );
    this.buffered += (s.pending?.length ?? 0) - before;
    if (closing) this.dropStream(pkt);
    else if (this.buffered > this.maxBuffered) this.releasePending();
  }

  private udp(pkt: Packet, out: Message[]): void {
    let d = this.udpByPort[pkt.dstPort];
    let toServer = true;
    if (d === undefined) {
      d = this.udpByPort[pkt.srcPort];
      toServer = false;
    }
    if (d === undefined || pkt.payloadLength === 0) return;
    const ctx = this.fillContext(pkt, 'udp');
    let state: Record<string, unknown> | undefined;
    if (d.stateful === true) {
      // One state per direction of an address pair, bounded like the TCP streams.
      const key = `${pkt.srcIp}|${pkt.dstIp}`;
      state = this.udpState.get(key);
      if (state === undefined) {
        if (this.udpState.size >= this.maxUdpStates) {
          this.udpState.delete(this.udpState.keys().next().value!);
          this.countAnomaly('udp_state_evicted');
          this.capped.udp_states = (this.capped.udp_states ?? 0) + 1;
        }
        this.udpState.set(key, (state = {}));
      }
    }
    try {
      d.dissect(pkt.data, pkt.payloadOffset, pkt.payloadLength, ctx, toServer, out, state);
    } catch {
      this.countAnomaly(`${d.protocol}_dissector_error`);
    }
  }

  private stream(pkt: Packet, d: StreamDissector, toServer: boolean): TcpHalfStream {
    if (pkt.ipVersion === 4) {
      const ports = ((pkt.srcPort << 16) | pkt.dstPort) >>> 0;
      const i = streamSlot(pkt.srcIp4, pkt.dstIp4, ports);
      const recent = this.recentStream[i];
      if (
        recent !== undefined &&
        this.recentSrc[i] === pkt.srcIp4 &&
        this.recentDst[i] === pkt.dstIp4 &&
        this.recentPorts[i] === ports
      )
        return recent;
      const k1 = pkt.srcIp4 * 65536 + pkt.srcPort;
      const k2 = pkt.dstIp4 * 65536 + pkt.dstPort;
      let inner = this.streams4.get(k1);
      if (inner === undefined) {
        inner = new Map();
        this.streams4.set(k1, inner);
      }
      let s = inner.get(k2);
      if (s === undefined) {
        s = newHalfStream(d, toServer);
        inner.set(k2, s);
        this.added(pkt.ts);
        // A full table may have been swept, this new stream with it: cache only a tracked one.
        if (this.streams4.get(k1)?.get(k2) !== s) return s;
      }
      this.recentStream[i] = s;
      this.recentSrc[i] = pkt.srcIp4;
      this.recentDst[i] = pkt.dstIp4;
      this.recentPorts[i] = ports;
      return s;
    }
    const key = `${pkt.srcIp}|${pkt.srcPort}|${pkt.dstIp}|${pkt.dstPort}`;
    let s = this.streams6.get(key);
    if (s === undefined) {
      s = newHalfStream(d, toServer);
      this.streams6.set(key, s);
      this.added(pkt.ts);
    }
    return s;
  }

  private added(now: number): void {
    if (++this.streamCount <= this.maxStreams) return;
    // Too many open streams (scan, flood, or capture without FINs): forget the idle ones; if that frees too
    // little, forget them all rather than grow without bound. Either way, counted.
    const before = this.streamCount;
    this.recentStream.fill(undefined);
    const idle = (s: TcpHalfStream): boolean => {
      if (now - s.lastTs < this.idleStream || s.lastTs === 0) return false;
      this.forget(s);
      return true;
    };
    for (const [k1, inner] of this.streams4) {
      for (const [k2, s] of inner) if (idle(s)) inner.delete(k2);
      if (inner.size === 0) this.streams4.delete(k1);
    }
    for (const [k, s] of this.streams6) if (idle(s)) this.streams6.delete(k);
    if (this.streamCount > (this.maxStreams * 3) / 4) {
      this.countAnomaly('tcp_stream_table_reset');
      this.streams4.clear();
      this.streams6.clear();
      this.streamCount = 0;
      this.buffered = 0;
    } else this.countAnomaly('tcp_idle_streams_dropped');
    this.capped.tcp_streams = (this.capped.tcp_streams ?? 0) + before - this.streamCount;
  }

  private get capped(): Record<string, number> {
    return this.st.capped;
  }

  /**
   * Too many bytes wait for the rest of their PDUs (many streams each holding a partial PDU): drop every
   * partial PDU, as a gap would, and count the bytes dropped, instead of growing without bound.
   */
  private releasePending(): void {
    let dropped = 0;
    const release = (s: TcpHalfStream): void => {
      dropped += s.pendingLen;
      s.pending = null;
      s.pendingLen = 0;
      s.lost = false;
    };
    for (const inner of this.streams4.values()) for (const s of inner.values()) release(s);
    for (const s of this.streams6.values()) release(s);
    this.buffered = 0;
    this.countAnomaly('tcp_reassembly_buffer_reset');
    this.capped.tcp_buffered_bytes = (this.capped.tcp_buffered_bytes ?? 0) + dropped;
  }

  private dropStream(pkt: Packet): void {
    if (pkt.ipVersion === 4) {
      const k1 = pkt.srcIp4 * 65536 + pkt.srcPort;
      const inner = this.streams4.get(k1);
      const k2 = pkt.dstIp4 * 65536 + pkt.dstPort;
      const s = inner?.get(k2);
      if (s !== undefined) {
        const i = streamSlot(pkt.srcIp4, pkt.dstIp4, ((pkt.srcPort << 16) | pkt.dstPort) >>> 0);
        if (this.recentStream[i] === s) this.recentStream[i] = undefined;
        inner!.delete(k2);
        this.forget(s);
        if (inner!.size === 0) this.streams4.delete(k1);
      }
    } else {
      const key = `${pkt.srcIp}|${pkt.srcPort}|${pkt.dstIp}|${pkt.dstPort}`;
      const s = this.streams6.get(key);
      if (s !== undefined) {
        this.streams6.delete(key);
        this.forget(s);
      }
    }
  }

  private forget(s: TcpHalfStream): void {
    this.streamCount--;
    this.buffered -= s.pending?.length ?? 0;
  }

  private fillContext(pkt: Packet, transport: PduContext['transport']): PduContext {
    const c = this.ctx;
    c.frame = pkt.frame;
    c.ts = pkt.ts;
    c.transport = transport;
    c.srcMac = pkt.srcMac;
    c.dstMac = pkt.dstMac;
    c.srcIp = pkt.srcIp;
    c.dstIp = pkt.dstIp;
    c.srcPort = pkt.srcPort;
    c.dstPort = pkt.dstPort;
    return c;
  }

  private emit(out: Message[]): void {
    const st = this.st;
    const stages = this.stages;
    for (let i = 0; i < out.length; i++) {
      const m = out[i]!;
      st.messages++;
      const p = m.protocol;
      if (p !== this.lastProto) {
        this.lastSlot = this.protoSlot(p);
        this.lastProto = p;
      }
      this.protoCounts[this.lastSlot]++;
      if (m.anomaly !== null) this.countAnomaly(this.malformedKind(p));
      stages.onMessage(m);
    }
    // Emptied by pops (inlined for an array of one or two), not `length = 0`, which calls the length setter
    // (~2% of a pass).
    while (out.length > 0) out.pop();
  }
}
