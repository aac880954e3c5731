// PROFINET IO (IEC 61158-6-10): the context management path — connectionless DCE/RPC on UDP 34964 with the PNIO
// interfaces (opnum 0 Connect, 1 Release, 2 Read, 3 Write, 4 Control, 5 ReadImplicit) carrying big-endian
// blocks (AR, IOCR, read/write record headers, I&M0 identity) — and the cyclic real-time frames on EtherType
// 0x8892 (frame id → RT class; cycle counter, data status, transfer status at the frame's end). DCP shares the
// EtherType and keeps its own file (profinet-dcp.ts): frame ids 0xFEFC–0xFEFF are left to it.
import type { LinkDissector } from '../link-dissector.js';
import type { DatagramDissector, FunctionCategory, ProtocolDescriptor } from '../protocol.js';
import {
  markMalformed,
  newMessage,
  type IdentityFacts,
  type Malformed,
  type Message,
} from '../message.js';
import { ascii, hex, u16be, u16le, u32be, u32le } from '../bytes.js';

export const PROFINET_IO_ANOMALIES = [
  'rpc_truncated',
  'rpc_version',
  'fragment_length',
  'block_overrun',
  'rt_truncated',
] as const;
export type ProfinetIoAnomaly = (typeof PROFINET_IO_ANOMALIES)[number];
const malformed: Malformed<ProfinetIoAnomaly> = markMalformed;

export const PNIO_CM_PORT = 34964;

export const OPNUMS: Readonly<Record<number, string>> = {
  0: 'Connect',
  1: 'Release',
  2: 'Read',
  3: 'Write',
  4: 'Control',
  5: 'ReadImplicit',
};
const CATEGORIES: Readonly<Record<number, FunctionCategory>> = {
  0: 'session',
  1: 'session',
  2: 'read',
  3: 'write',
  4: 'control',
  5: 'read',
};

/** PNIO interface UUIDs DEA0000x-6C97-11D1-8271-00A02442DF7D: x = 1 device, 2 controller, 3 supervisor, 4 parameter server. */
const PNIO_INTERFACES = ['', 'device', 'controller', 'supervisor', 'parameter_server'];
const PNIO_UUID_TAIL = [0x82, 0x71, 0x00, 0xa0, 0x24, 0x42, 0xdf, 0x7d];
/** The DCE/RPC endpoint mapper (e1af8308-5d1f-11c9-91a4-08002b14a0fa), looked up on the same port. */
const EPM_UUID_HEAD = 0xe1af8308;

const PTYPES: Readonly<Record<number, string>> = {
  0: 'request',
  1: 'ping',
  2: 'response',
  3: 'fault',
  4: 'working',
  5: 'nocall',
  6: 'reject',
  7: 'ack',
  8: 'cl_cancel',
  9: 'fack',
  10: 'cancel_ack',
};

/** Block types whose record header names slot, subslot and index. */
const RECORD_HEADERS = new Set([0x0008, 0x0009, 0x8008, 0x8009]);
const BLOCK_AR_REQ = 0x0101,
  BLOCK_IM0 = 0x0020,
  BLOCK_READ_RES = 0x8009,
  CONTROL_BLOCKS = new Set([
    0x0110, 0x0111, 0x0112, 0x0113, 0x0114, 0x0116, 0x0117, 0x8110, 0x8111, 0x8112, 0x8113, 0x8114,
    0x8116, 0x8117,
  ]);

/** A few PROFINET vendor ids (PI's list), for a readable identity; others are shown by number. */
const VENDORS: Readonly<Record<number, string>> = {
  0x002a: 'Siemens',
  0x00b0: 'Phoenix Contact',
  0x011e: 'WAGO',
  0x0120: 'Beckhoff',
  0x001c: 'Hilscher',
  0x010d: 'Murrelektronik',
  0x0118: 'Turck',
};

export const profinetIoCm: DatagramDissector = {
  protocol: 'profinet_io',
  dissect(b, off, len, ctx, toServer, out) {
    const m = newMessage(ctx, 'profinet_io');
    m.role = toServer ? 'request' : 'response';
    out.push(m);
    if (len < 80) {
      malformed(m, 'rpc_truncated', `DCE/RPC header needs 80 bytes, datagram has ${len}`);
      return;
    }
    if (b[off] !== 4) {
      malformed(m, 'rpc_version', `DCE/RPC version ${b[off]} is not 4 (connectionless)`);
      return;
    }
    const ptype = b[off + 1]!;
    const le = (b[off + 4]! & 0x10) !== 0;
    const r16 = le ? u16le : u16be,
      r32 = le ? u32le : u32be;
    const fields: Record<string, string | number | boolean> = {
      packet_type: PTYPES[ptype] ?? `ptype_${ptype}`,
    };
    m.fields = fields;
    const ifHead = r32(b, off + 24);
    let iface = '';
    if (
      (ifHead & 0xfffffff0) >>> 0 === 0xdea00000 &&
      r16(b, off + 28) === 0x6c97 &&
      r16(b, off + 30) === 0x11d1
    ) {
      let tail = true;
      for (let i = 0; i < 8; i++) if (b[off + 32 + i] !== PNIO_UUID_TAIL[i]) tail = false;
      if (tail) iface = PNIO_INTERFACES[ifHead & 0xf] ?? '';
    } else if (ifHead === EPM_UUID_HEAD) iface = 'epm';
    fields.interface = iface || `uuid_${ifHead.toString(16)}`;
    m.txId = r32(b, off + 64);
    const opnum = r16(b, off + 68);
    const fragLen = r16(b, off + 74);
    m.role =
      ptype === 0 || ptype === 1
        ? 'request'
        : ptype === 2 || ptype === 3 || ptype === 6
          ? 'response'
          : m.role;
    if (ptype === 3 || ptype === 6) m.exception = 0;
    if (80 + fragLen > len) {
      malformed(
        m,
        'fragment_length',
        `fragment length ${fragLen} overruns the ${len}-byte datagram`,
      );
      return;
    }
    // Only PNIO requests and responses carry operations; pings, acks and endpoint lookups are RPC upkeep.
    if (iface === '' || iface === 'epm' || (ptype !== 0 && ptype !== 2)) return;
    m.func = opnum;
    m.funcName = OPNUMS[opnum] ?? `OPNUM_${opnum}`;
    fields.pnio_interface = iface;
    const body = off + 80,
      end = body + fragLen;
    if ((b[off + 2]! & 0x04) !== 0 && r16(b, off + 76) !== 0) return; // a later fragment: no NDR header
    if (fragLen < 20) return;
    if (ptype === 2) {
      // PNIOStatus: ErrorCode, ErrorDecode, ErrorCode1, ErrorCode2 (0 = OK)
      const status = u32be(b, body);
      if (status !== 0) {
        m.exception = status;
        fields.pnio_status = `0x${status.toString(16).padStart(8, '0')}`;
      }
    }
    blocks(m, b, body + 20, Math.min(end, body + 20 + r32(b, body + 4)), fields, ptype === 2);
  },
};

/** The PNIO blocks of a request or response body. */
function blocks(
  m: Message,
  b: Uint8Array,
  q: number,
  end: number,
  fields: Record<string, string | number | boolean>,
  response: boolean,
): void {
  const names: string[] = [];
  let index = -1;
  while (q + 6 <= end) {
    const type = u16be(b, q),
      blen = u16be(b, q + 2);
    const next = q + 4 + blen;
    if (next > end || blen < 2) {
      malformed(
        m,
        'block_overrun',
        `block 0x${type.toString(16)} length ${blen} overruns the body`,
      );
      break;
    }
    names.push(`0x${type.toString(16).padStart(4, '0')}`);
    if (RECORD_HEADERS.has(type) && blen >= 36) {
      const slot = u16be(b, q + 28),
        subslot = u16be(b, q + 30);
      index = u16be(b, q + 34);
      const length = u32be(b, q + 36);
      fields.api = u32be(b, q + 24);
      fields.slot = slot;
      fields.subslot = subslot;
      fields.index = `0x${index.toString(16).padStart(4, '0')}`;
      fields.record_data_length = length;
      fields.ar_uuid = hex(b, q + 8, 16);
      m.targets = [{ space: `slot_${slot}.${subslot}`, start: index, count: length }];
      if (
        type === BLOCK_READ_RES &&
        index === 0xaff0 &&
        next + 6 <= end &&
        u16be(b, next) === BLOCK_IM0
      )
        im0(m, b, next, end, fields);
    } else if (type === BLOCK_AR_REQ && blen >= 54) {
      fields.ar_type = u16be(b, q + 6);
      fields.ar_uuid = hex(b, q + 8, 16);
      const n = u16be(b, q + 56);
      if (q + 58 + n <= next) fields.station_name = ascii(b, q + 58, n);
    } else if (CONTROL_BLOCKS.has(type) && blen >= 26) {
      fields.control_command = u16be(b, q + 28);
      fields.ar_uuid = hex(b, q + 8, 16);
    }
    // A read response's record data follows its header, not as further blocks.
    if (type === BLOCK_READ_RES) break;
    q = next;
  }
  if (names.length) fields.blocks = names.join(',');
  if (!response && m.func === 3) m.write = true;
  if (!response && m.func === 4 && fields.control_command !== undefined) m.write = true;
}

/** I&M0 (index 0xAFF0): vendor, order id, serial number, hardware and software revision of a (sub)module. */
function im0(
  m: Message,
  b: Uint8Array,
  q: number,
  end: number,
  fields: Record<string, string | number | boolean>,
): void {
  if (q + 50 > end) return;
  const vendorId = u16be(b, q + 6);
  const id: IdentityFacts = {
    vendor: VENDORS[vendorId] ?? `PROFINET vendor 0x${vendorId.toString(16).padStart(4, '0')}`,
    model: ascii(b, q + 8, 20),
    serial: ascii(b, q + 28, 16),
    hardware: String(u16be(b, q + 44)),
    firmware: `${String.fromCharCode(b[q + 46]!)}${b[q + 47]}.${b[q + 48]}.${b[q + 49]}`,
  };
  fields.vendor_id = vendorId;
  fields.order_id = id.model!;
  m.identity = id;
}

/** RT frame id ranges (IEC 61158-6-10 Table "FrameID"). */
function rtClass(id: number): string {
  if (id < 0x0100) return 'time_sync';
  if (id < 0x1000) return 'rt_class_3';
  if (id < 0x8000) return 'reserved';
  if (id < 0xc000) return 'rt_class_1';
  if (id < 0xfc00) return 'rt_class_1_unicast'; // tshark: RTC1 (legacy)
  if (id === 0xfc01) return 'alarm_high';
  if (id === 0xfe01) return 'alarm_low';
  return 'other';
}

/** Cyclic RT data: frame id, I/O data, then cycle counter, data status and transfer status. */
export const profinetRt: LinkDissector = {
  protocol: 'profinet_io',
  dissect(b, off, len, ctx, out) {
    if (len < 2) return;
    const frameId = u16be(b, off);
    if (frameId >= 0xfefc && frameId <= 0xfeff) return; // DCP (profinet-dcp.ts)
    const cls = rtClass(frameId);
    if (cls !== 'rt_class_1' && cls !== 'rt_class_3' && cls !== 'rt_class_1_unicast') return;
    const m = newMessage(ctx, 'profinet_io');
    m.role = 'unsolicited';
    m.unit = frameId;
    out.push(m);
    if (len < 6) {
      malformed(m, 'rt_truncated', 'RT frame shorter than its status trailer');
      return;
    }
    const t = off + len - 4;
    const ds = b[t + 2]!;
    m.fields = {
      frame_id: frameId,
      rt_class: cls,
      cycle_counter: u16be(b, t),
      data_status: ds,
      transfer_status: b[t + 3]!,
      // Data status bits: 0 primary, 2 data valid, 4 run (vs stop), 5 station problem indicator normal.
      data_valid: (ds & 0x04) !== 0,
      provider_run: (ds & 0x10) !== 0,
      io_data_length: len - 6,
    };
  },
};

function category(m: Message): FunctionCategory {
  return CATEGORIES[m.func] ?? 'unknown';
}

export const profinetIoProtocol: ProtocolDescriptor<ProfinetIoAnomaly> = {
  name: 'profinet_io',
  title: 'PROFINET IO',
  industrial: true,
  // The inline gateway proxies TCP only: CM records over UDP are enforced by port.
  gateway: false,
  serverPort: { transport: 'udp', port: PNIO_CM_PORT },
  ports: { tcp: [], udp: [PNIO_CM_PORT] },
  etherTypes: [0x8892],
  functions: OPNUMS,
  category,
  operations: {},
  anomalies: PROFINET_IO_ANOMALIES,
  datagram: profinetIoCm,
  link: profinetRt,
};
