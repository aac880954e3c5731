import type {
  DatagramDissector,
  ProtocolDescriptor,
  RequestedMode,
  StreamDissector,
} from '../protocol.js';
import { newMessage, unwalked, type Message, type PduContext, type Target } from '../message.js';
import { u16le, u32le } from '../bytes.js';
import { DNP3_FUNCTIONS, DNP3_WRITES, OBJECT_SIZE } from './dnp3-tables.js';
import { FragmentJoiner } from '../fragments.js';
import { dnp3Category, dnp3LinkControl } from './dnp3-categories.js';

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa6bc : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** DNP3 link CRC (polynomial 0x3D65, reflected, complemented), stored little-endian after each block. */
function crcOk(b: Uint8Array, o: number, n: number): boolean {
  let c = 0;
  for (let i = 0; i < n; i++) c = (c >>> 8) ^ CRC_TABLE[(c ^ b[o + i]!) & 0xff]!;
  return (~c & 0xffff) === u16le(b, o + n);
}

/** On-wire size of a link frame whose LENGTH field is `len` (header 10 bytes, 16-byte blocks with 2-byte CRCs). */
function frameSize(len: number): number {
  const user = len - 5;
  return 10 + user + 2 * Math.ceil(user / 16);
}

function pduLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 1) return 0;
  if (b[off] !== LINK_START_1) return -1;
  if (avail < 2) return 0;
  if (b[off + 1] !== LINK_START_2) return -1;
  if (avail < 3) return 0;
  const len = b[off + 2]!;
  return len < 5 ? -1 : frameSize(len);
}

/** First two octets of every DNP3 link frame. */
const LINK_START_1 = 0x05;
const LINK_START_2 = 0x64;
/** Application function codes: a response's codes start at 129; 130 is an unsolicited response. */
const FIRST_RESPONSE_FC = 129;
const FC_UNSOLICITED_RESPONSE = 130;
/** Application functions that start and stop an application on the outstation. */
const FC_START_APPL = 17;
const FC_STOP_APPL = 18;

/** Kinds of malformed DNP3 PDU (the `kind` of a Message's anomaly). */
export const DNP3_ANOMALIES = [
  'link_crc_mismatch',
  'application_header_truncated',
  'iin_truncated',
  'object_range_truncated',
  'object_range_reversed',
  'object_count_truncated',
  'segment_without_first',
  'segment_out_of_sequence',
  'fragment_too_large',
  'fragment_abandoned',
  'object_data_truncated',
  'link_function_no_user_data',
] as const;
export type Dnp3Anomaly = (typeof DNP3_ANOMALIES)[number];

/** Per-direction state: the transport reassembly, made when the first multi-frame fragment starts. */
export interface Dnp3StreamState {
  reassembly: Reassembly | null;
}

/** Link-layer function names (IEEE 1815 §9.2.4.1.3): secondary 0–15, primary 16 + code. */
const LINK_FUNCTIONS: Record<number, string> = {
  0: 'ACK',
  1: 'NACK',
  11: 'LINK_STATUS',
  15: 'NOT_SUPPORTED',
  16: 'RESET_LINK_STATES',
  18: 'TEST_LINK_STATES',
  19: 'CONFIRMED_USER_DATA',
  20: 'UNCONFIRMED_USER_DATA',
  25: 'REQUEST_LINK_STATUS',
};

/** Transport-layer reassembly of one direction: the application fragment joined so far and where it came from. */
interface Reassembly {
  joiner: FragmentJoiner;
  seq: number;
  src: number;
  dest: number;
  crcBad: boolean;
}

/** The user data of one link frame, its block CRCs removed (a link length octet admits at most 250 bytes). */
const USER_DATA = new Uint8Array(256);

/** Application fragments larger than this are not DNP3 (the standard's maximum is 2048). */
const MAX_FRAGMENT = 4096;
/** Segments of one fragment: 2048 bytes need 9 full ones; more means a peer that never sends FIN. */
const MAX_SEGMENTS = 64;

/** The transport header (first user data octet) of a whole link frame, or -1 for link-only or unframed bytes. */
function transportHeader(b: Uint8Array, off: number, len: number): number {
  if (len < 11 || pduLength(b, off, len) !== len || b[off + 2]! <= 5) return -1;
  return b[off + 10]!;
}

function dissect(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  state?: Dnp3StreamState,
): void {
  if (len < 10 || pduLength(b, off, len) !== len) return;
  const linkLen = b[off + 2]!;
  const ctrl = b[off + 3]!;
  const dest = u16le(b, off + 4),
    src = u16le(b, off + 6);
  let crcBad = !crcOk(b, off, 8);
  const user = linkLen - 5;
  if (user === 0) return; // link-layer only (reset, link status): no application PDU
  // Only primary frames with (UN)CONFIRMED_USER_DATA carry transport segments; an outstation discards the user
  // data of any other link function, so it is no application request, but no honest station sends it.
  const linkFunc = ctrl & 0x0f,
    primary = (ctrl & 0x40) !== 0;
  if (!primary || (linkFunc !== 3 && linkFunc !== 4)) {
    const m = newMessage(ctx, 'dnp3');
    m.role = toServer ? 'request' : 'response';
    m.unit = dest;
    m.fields = { src_addr: src, dst_addr: dest, link_function: linkFunc, link_primary: primary };
    m.anomaly = {
      kind: 'link_function_no_user_data',
      detail: `${user} bytes of user data in a ${primary ? 'primary' : 'secondary'} link frame of function ${linkFunc} (${LINK_FUNCTIONS[(primary ? 16 : 0) + linkFunc] ?? 'reserved'}), which carries none`,
    };
    out.push(m);
    return;
  }
  // Remove the block CRCs into a contiguous copy (small: at most 250 bytes), checking each block's CRC in the
  // same pass over its bytes (no view object per block). The copy goes into one scratch buffer, reused: a fresh
  // array per frame is an off-heap store each scavenge has to sweep, and nothing keeps these bytes (segments of a
  // longer fragment are copied into its joiner, and messages carry numbers and text, never views).
  const data = USER_DATA;
  for (let i = 0, q = off + 10; i < user; ) {
    const blk = Math.min(16, user - i);
    let c = 0;
    for (let k = 0; k < blk; k++) {
      const x = b[q + k]!;
      data[i + k] = x;
      c = (c >>> 8) ^ CRC_TABLE[(c ^ x) & 0xff]!;
    }
    if ((~c & 0xffff) !== u16le(b, q + blk)) crcBad = true;
    i += blk;
    q += blk + 2;
  }
  const transport = data[0]!;
  const fir = (transport & 0x40) !== 0,
    fin = (transport & 0x80) !== 0,
    seq = transport & 0x3f;
  let app: Uint8Array = data.subarray(1, user);
  const link = { ctrl, src, dest, crcBad, fin };
  if (!(fir && fin)) {
    // Multi-frame fragment: join transport segments and report the fragment when its last segment arrives.
    if (state === undefined) {
      if (!fir) return;
    } else {
      const joined = joinSegment(state, app, fir, fin, seq, link, ctx, toServer, out);
      if (joined === null) return;
      app = joined;
    }
  }
  application(app, ctx, out, link);
}

/**
 * Add one transport segment to the direction's fragment. Returns the whole fragment at FIN, else null. A broken
 * sequence, a missing first segment or an endless fragment is reported once and the rest of it skipped to FIN.
 */
function joinSegment(
  state: Dnp3StreamState,
  app: Uint8Array,
  fir: boolean,
  fin: boolean,
  seq: number,
  link: { ctrl: number; src: number; dest: number; crcBad: boolean; fin: boolean },
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): Uint8Array | null {
  let r = state.reassembly;
  if (r === null)
    r = state.reassembly = {
      joiner: new FragmentJoiner(MAX_FRAGMENT, MAX_SEGMENTS),
      seq,
      src: link.src,
      dest: link.dest,
      crcBad: false,
    };
  const j = r.joiner;
  if (fir) {
    if (j.joining)
      transportAnomaly(
        ctx,
        toServer,
        out,
        link,
        'fragment_abandoned',
        `transport fragment abandoned after ${j.count} segments: a new first segment`,
      );
    j.restart();
    r.seq = seq;
    r.src = link.src;
    r.dest = link.dest;
    r.crcBad = link.crcBad;
    j.add(app, 0, app.length);
    return null;
  }
  if (j.skipping) {
    if (fin) j.reset();
    return null;
  }
  let kind: Dnp3Anomaly | null = null,
    why = '';
  if (!j.joining) {
    kind = 'segment_without_first';
    why = `transport segment ${seq} without a first segment`;
  } else if (r.src !== link.src || r.dest !== link.dest || ((r.seq + 1) & 0x3f) !== seq) {
    kind = 'segment_out_of_sequence';
    why = `transport segment ${seq} out of sequence (expected ${(r.seq + 1) & 0x3f})`;
  } else if (j.size + app.length > MAX_FRAGMENT || j.count + 1 > MAX_SEGMENTS) {
    // Oversized or never-ending: decode what was joined (an outstation may act on it) and flag the rest.
    const size = j.size,
      count = j.count;
    const partial = j.take();
    j.skip();
    if (fin) j.reset();
    application(partial, ctx, out, link);
    const m = out[out.length - 1]!;
    const other = m.anomaly === null ? '' : `; ${m.anomaly.detail}`;
    m.anomaly = {
      kind: 'fragment_too_large',
      detail: `transport fragment exceeds ${MAX_FRAGMENT} bytes or ${MAX_SEGMENTS} segments: decoded the first ${size} bytes of ${count} segments, the rest skipped${other}`,
    };
    return null;
  } else j.add(app, 0, app.length);
  if (kind !== null) {
    transportAnomaly(ctx, toServer, out, link, kind, why);
    if (fin) j.reset();
    else j.skip();
    return null;
  }
  r.seq = seq;
  r.crcBad ||= link.crcBad;
  if (!fin) return null;
  link.crcBad = r.crcBad;
  // Decoded at once by application(), which keeps no view of it: the joiner's buffer serves the next fragment.
  return j.takeTransient();
}

/** The first malformation found stays the message's anomaly. */
function malformed(m: Message, kind: Dnp3Anomaly, detail: string): void {
  m.anomaly ??= { kind, detail };
}

/** A fragment given up before it was whole: one message carrying the anomaly, addressed like the frame. */
function transportAnomaly(
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  link: { src: number; dest: number },
  kind: Dnp3Anomaly,
  why: string,
): void {
  const m = newMessage(ctx, 'dnp3');
  m.role = toServer ? 'request' : 'response';
  m.unit = link.dest;
  m.fields = { src_addr: link.src, dst_addr: link.dest };
  m.anomaly = { kind, detail: why };
  out.push(m);
}

function application(
  d: Uint8Array,
  ctx: PduContext,
  out: Message[],
  link: { ctrl: number; src: number; dest: number; crcBad: boolean; fin: boolean },
): void {
  const m = newMessage(ctx, 'dnp3');
  out.push(m);
  m.unit = link.dest;
  // Fields in one literal per shape (request, response), their order that of the PDU's layers.
  const dir = (link.ctrl & 0x80) !== 0;
  if (link.crcBad) malformed(m, 'link_crc_mismatch', 'link CRC mismatch');
  const n = d.length;
  if (n < 2) {
    m.fields = { link_dir: dir, src_addr: link.src, dst_addr: link.dest, transport_fin: link.fin };
    malformed(m, 'application_header_truncated', 'application header truncated');
    return;
  }
  const ac = d[0]!,
    fc = d[1]!;
  m.txId = ac & 0x0f;
  m.func = fc;
  const name = DNP3_FUNCTIONS[fc] ?? `FUNCTION_${fc}`;
  m.funcName = name;
  const response = fc >= FIRST_RESPONSE_FC;
  m.role = fc === FC_UNSOLICITED_RESPONSE ? 'unsolicited' : response ? 'response' : 'request';
  let p = 2;
  if (response) {
    if (n < 4) {
      m.fields = {
        link_dir: dir,
        src_addr: link.src,
        dst_addr: link.dest,
        transport_fin: link.fin,
        app_control: ac,
        fc_reply: name,
      };
      malformed(m, 'iin_truncated', 'IIN truncated');
      return;
    }
    m.fields = {
      link_dir: dir,
      src_addr: link.src,
      dst_addr: link.dest,
      transport_fin: link.fin,
      app_control: ac,
      fc_reply: name,
      iin: (d[2]! << 8) | d[3]!,
    };
    // IIN2: bit 0 function not supported, 1 object unknown, 2 parameter error.
    if (d[3]! & 0x07) m.exception = d[3]! & 0x07;
    p = 4;
  } else {
    m.fields = {
      link_dir: dir,
      src_addr: link.src,
      dst_addr: link.dest,
      transport_fin: link.fin,
      app_control: ac,
      fc_request: name,
    };
    m.write = DNP3_WRITES.has(fc);
  }
  m.targets = objectHeaders(d, p, n, m);
}

/** Object headers walked per request at most. */
const MAX_TARGETS = 32;
/** Point indexes of one group: 32-bit (qualifiers 0x02, 0x09, prefix code 3), so "all points" is 0..2^32-1. */
export const ALL_POINTS = 2 ** 32;
/** Object groups with no point index (IEEE 1815): device attributes, time, CTO, delay, class, file, IIN, application, status of operations, authentication. */
export const POINTLESS_GROUPS = new Set([0, 50, 51, 52, 60, 70, 80, 90, 91, 120]);

/**
 * Walk object headers: group, variation, qualifier and range; stops at objects of unknown size, and says so
 * (an `unwalked` target) when headers or points remain.
 */
function objectHeaders(d: Uint8Array, p: number, end: number, m: Message): Target[] | null {
  const targets: Target[] = [];
  const values: number[] = [];
  // Set when headers or points remain that were not walked: their addresses cannot be held to a policy.
  let cut = false;
  const read = m.role === 'request' && m.func === 1;
  while (p + 3 <= end) {
    if (targets.length >= MAX_TARGETS) {
      cut = true;
      break;
    }
    const g = d[p]!,
      v = d[p + 1]!,
      q = d[p + 2]!;
    const prefix = (q >> 4) & 7,
      range = q & 0x0f;
    p += 3;
    let start = 0,
      count = 0;
    if (range === 0 || range === 1 || range === 2) {
      const w = range === 0 ? 1 : range === 1 ? 2 : 4;
      if (p + 2 * w > end) {
        malformed(m, 'object_range_truncated', 'object range truncated');
        break;
      }
      start = w === 1 ? d[p]! : w === 2 ? u16le(d, p) : u32le(d, p);
      const stop = w === 1 ? d[p + w]! : w === 2 ? u16le(d, p + w) : u32le(d, p + w);
      if (stop < start) {
        malformed(m, 'object_range_reversed', `object range ${start}..${stop} reversed`);
        break;
      }
      count = stop - start + 1;
      p += 2 * w;
    } else if (range === 6) {
      // "All points of this group": neither a range nor objects follow. On a point group of a request it is every
      // index there is, the widest range, never none. Objects with no point index (class data, device attributes
      // — READ g0v254 at every connect —, time, files, IIN, application ids, authentication) name no points: a
      // list of indexes cannot hold them (review 14b, F2). In a response it is not valid and names nothing.
      if (prefix !== 0) {
        cut = true;
        break; // an index prefix on "all points" has no meaning an outstation agrees on
      }
      const all = m.role === 'request' && !POINTLESS_GROUPS.has(g);
      targets.push({ space: `g${g}v${v}`, start: 0, count: all ? ALL_POINTS : 0 });
      continue;
    } else if (range === 7 || range === 8 || range === 9) {
      const w = range === 7 ? 1 : range === 8 ? 2 : 4;
      if (p + w > end) {
        malformed(m, 'object_count_truncated', 'object count truncated');
        break;
      }
      count = w === 1 ? d[p]! : w === 2 ? u16le(d, p) : u32le(d, p);
      p += w;
    } else {
      cut = true;
      break; // virtual addresses / free format: stop walking
    }
    const space = `g${g}v${v}`;
    const size = OBJECT_SIZE[g * 256 + v];
    const prefixBytes = prefix === 1 ? 1 : prefix === 2 ? 2 : prefix === 3 ? 4 : 0;
    if (prefixBytes > 0 && count > 0 && size !== undefined && m.role !== 'request') {
      // Indexed objects of a response (events): the first index stands for the points reported.
      if (p + prefixBytes <= end)
        start = prefixBytes === 1 ? d[p]! : prefixBytes === 2 ? u16le(d, p) : u32le(d, p);
    } else if (prefixBytes > 0 && count > 0 && (read || size !== undefined)) {
      // Indexed objects of a request (a CROB with a 1-byte index, a READ of listed points): each index is a point
      // of its own, not the first of a run; points 5 and 1000 are two addresses, never 5..6.
      const stride = prefixBytes + (read ? 0 : size!);
      const present = Math.min(count, Math.floor((end - p) / stride));
      if (present < count)
        malformed(
          m,
          'object_data_truncated',
          `object data truncated: ${present} of ${count} ${space} objects present`,
        );
      for (let i = 0; i < present; i++) {
        const o = p + i * stride;
        const index = prefixBytes === 1 ? d[o]! : prefixBytes === 2 ? u16le(d, o) : u32le(d, o);
        const last = targets[targets.length - 1];
        if (i > 0 && last !== undefined && last.start + last.count === index) last.count++;
        else if (targets.length < MAX_TARGETS) targets.push({ space, start: index, count: 1 });
        else {
          cut = true;
          break;
        }
      }
      if (cut || present < count) break;
      p += count * stride;
      continue;
    }
    if (read) {
      targets.push({ space, start, count });
      continue; // READ carries headers only
    }
    // A header announcing more objects than the fragment holds (a CROB header for 2 points with 1 present):
    // report the objects that are there and flag the rest, never a write of points that were not sent.
    const each = size === undefined ? 0 : size + prefixBytes;
    if (each > 0 && count > 0 && p + count * each > end) {
      const present = Math.max(0, Math.floor((end - p) / each));
      malformed(
        m,
        'object_data_truncated',
        `object data truncated: ${present} of ${count} ${space} objects present`,
      );
      if (present > 0) targets.push({ space, start, count: present });
      break;
    }
    targets.push({ space, start, count });
    if (size === undefined) {
      cut = p < end; // data of a size this walk does not know, and whatever follows it
      break;
    }
    if (size > 0 && count > 0 && g === 30 && (v === 2 || v === 4) && prefixBytes === 0) {
      for (let i = 0; i < count && p + i * size + size <= end && values.length < 256; i++) {
        const o = p + i * size + (v === 2 ? 1 : 0);
        values.push((u16le(d, o) << 16) >> 16);
      }
    }
    p += count * (size + prefixBytes);
  }
  if (cut && m.role === 'request') targets.push(unwalked());
  if (values.length) m.values = values;
  return targets.length ? targets : null;
}

/** The next link header (0x05 0x64, a sane length and a good header CRC) after bytes that were not one. */
function resync(b: Uint8Array, off: number, end: number): number {
  for (let p = off; p + 10 <= end; p++)
    if (b[p] === 0x05 && b[p + 1] === 0x64 && b[p + 2]! >= 5 && crcOk(b, p, 8)) return p;
  return -1;
}

export const dnp3Tcp: StreamDissector<Dnp3StreamState> = {
  protocol: 'dnp3',
  newState: () => ({ reassembly: null }),
  pduLength,
  dissect,
  resync,
  linkControl: dnp3LinkControl,
  partial(b, off, len) {
    const t = transportHeader(b, off, len);
    return t >= 0 && (t & 0x80) === 0;
  },
};

/** Link pairs whose fragments one address pair may be joining at once (each holds at most MAX_FRAGMENT bytes). */
const MAX_LINK_PAIRS = 64;

/**
 * DNP3 over UDP: a datagram may hold several link frames, and a fragment may span datagrams. Transport segments
 * are joined per link source/destination pair, with the same limits as over TCP.
 */
export const dnp3Udp: DatagramDissector = {
  protocol: 'dnp3',
  stateful: true,
  dissect(b, off, len, ctx, toServer, out, state) {
    let p = off;
    const end = off + len;
    while (p < end) {
      const n = pduLength(b, p, end - p);
      if (n <= 0 || p + n > end) return;
      let pair: Dnp3StreamState | undefined;
      if (state !== undefined && n >= 10) {
        const key = `${u16le(b, p + 6)}>${u16le(b, p + 4)}`;
        pair = state[key] as Dnp3StreamState | undefined;
        if (pair === undefined) {
          if (Object.keys(state).length >= MAX_LINK_PAIRS)
            for (const k of Object.keys(state)) delete state[k];
          state[key] = pair = { reassembly: null };
        }
      }
      dissect(b, p, n, ctx, toServer, out, pair);
      p += n;
    }
  },
};

/** Functions that restart the outstation, reset its data, start or stop applications, or manage its files. */
const OPERATIONS = {
  13: { kind: 'device_restart', what: 'cold-restarted the outstation' },
  14: { kind: 'device_restart', what: 'warm-restarted the outstation' },
  15: { kind: 'config_change', what: 'initialised data to defaults' },
  16: { kind: 'config_change', what: 'initialised an application' },
  [FC_START_APPL]: { kind: 'cpu_start', what: 'started an application' },
  [FC_STOP_APPL]: { kind: 'cpu_stop', what: 'stopped an application' },
  25: { kind: 'file_transfer', what: 'opened a file' },
  26: { kind: 'file_management', what: 'closed a file' },
  27: { kind: 'file_transfer', what: 'deleted a file' },
  29: { kind: 'file_management', what: 'authenticated a file transfer' },
  30: { kind: 'file_management', what: 'aborted a file transfer' },
} as const;

/** STOP_APPL and START_APPL. */
function requestedMode(m: Message): RequestedMode | null {
  return m.func === FC_STOP_APPL ? 'STOP' : m.func === FC_START_APPL ? 'RUN' : null;
}

export const dnp3Protocol: ProtocolDescriptor<Dnp3Anomaly> = {
  name: 'dnp3',
  title: 'DNP3',
  industrial: true,
  outstation: true,
  serverPort: { transport: 'tcp', port: 20000 },
  ports: { tcp: [20000], udp: [20000] },
  etherTypes: [],
  functions: DNP3_FUNCTIONS,
  category: dnp3Category,
  operations: OPERATIONS,
  requestedMode,
  anomalies: DNP3_ANOMALIES,
  stream: dnp3Tcp,
  datagram: dnp3Udp,
};
