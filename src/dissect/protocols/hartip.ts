import type { DatagramDissector, ProtocolDescriptor, StreamDissector } from '../protocol.js';
import {
  newMessage,
  markMalformed,
  type Malformed,
  type Message,
  type PduContext,
} from '../message.js';
import { hex, u16be, u24be } from '../bytes.js';
import {
  HART_COMMANDS,
  HART_OPERATIONS,
  HART_WRITES,
  SESSION_BASE,
  hartipCategory,
} from './hartip-commands.js';

/**
 * HART-IP (HCF_SPEC-085): an 8-byte header — version, message type, message id, status, sequence number, byte
 * count (big-endian, header included) — over UDP or TCP 5094. Session initiate, close and keep-alive manage the
 * session; pass-through messages carry a HART PDU (delimiter, short or long address, command, byte count, response
 * code and device status in replies, data, check byte) to a field device behind the gateway.
 *
 * Function codes: the HART command of a pass-through (command 31's 16-bit extended command in its first two data
 * bytes), and SESSION_BASE + message id for the session messages, so one code space names both.
 */

const HEADER = 8;
const MESSAGE_TYPES = ['request', 'response', 'publish', 'error'] as const;
const MSG_TYPE_NAK = 15;
const MSG_SESSION_INITIATE = 0,
  MSG_KEEP_ALIVE = 2,
  MSG_PASS_THROUGH = 3;
const MESSAGE_IDS: Record<number, string> = {
  0: 'session_initiate',
  1: 'session_close',
  2: 'keep_alive',
  3: 'pass_through',
  4: 'direct_pdu',
  128: 'read_audit_log',
};
/** HART frame types (delimiter bits 0–2): burst, master to field device, field device to master. */
const FRAME_BACK = 1,
  FRAME_STX = 2,
  FRAME_ACK = 6;
const CMD_EXTENDED = 31;
const CMD_READ_UNIQUE_ID = 0,
  CMD_READ_PV = 1,
  CMD_READ_CURRENT = 2,
  CMD_READ_DYNAMIC = 3,
  CMD_WRITE_RANGE = 35;
/** The first data byte of a command 0 reply is always 254 (HCF_SPEC-127 §6.1). */
const CMD0_EXPANSION = 254;

export const HARTIP_ANOMALIES = [
  'header_truncated',
  'length_mismatch',
  'pdu_truncated',
  'delimiter_invalid',
  'checksum_mismatch',
] as const;
export type HartipAnomaly = (typeof HARTIP_ANOMALIES)[number];
const malformed: Malformed<HartipAnomaly> = markMalformed;

function pduLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 1) return 0;
  if (b[off] !== 1 && b[off] !== 2) return -1;
  if (avail < 2) return 0;
  const type = b[off + 1]!;
  if (type > 3 && type !== MSG_TYPE_NAK) return -1;
  if (avail < 3) return 0;
  if (MESSAGE_IDS[b[off + 2]!] === undefined) return -1;
  if (avail < HEADER) return 0;
  const n = u16be(b, off + 6);
  return n < HEADER ? -1 : n;
}

function resync(b: Uint8Array, off: number, end: number): number {
  for (let p = off; p + HEADER <= end; p++) if (pduLength(b, p, HEADER) > 0) return p;
  return -1;
}

function message(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 'hartip');
  out.push(m);
  if (len < HEADER) {
    m.role = toServer ? 'request' : 'response';
    malformed(m, 'header_truncated', `${len} bytes, the header is ${HEADER}`);
    return;
  }
  const type = b[off + 1]!,
    id = b[off + 2]!,
    status = b[off + 3]!;
  const count = u16be(b, off + 6);
  m.txId = u16be(b, off + 4);
  m.role =
    type === 0
      ? 'request'
      : type === 2
        ? 'unsolicited'
        : type <= 3 || type === MSG_TYPE_NAK
          ? 'response'
          : 'unknown';
  const fields: Record<string, string | number | boolean> = {
    version: b[off]!,
    message_type: type === MSG_TYPE_NAK ? 'nak' : (MESSAGE_TYPES[type] ?? `type_${type}`),
    message_id: MESSAGE_IDS[id] ?? `id_${id}`,
    status,
  };
  m.fields = fields;
  if (status !== 0 && m.role !== 'request') m.exception = status;
  const end = off + Math.min(len, count);
  if (count !== len) malformed(m, 'length_mismatch', `byte count ${count}, datagram of ${len}`);
  if (type === 3 || type === MSG_TYPE_NAK) {
    // Error and NAK replies name no function.
    m.funcName = fields.message_type as string;
    return;
  }
  if (id !== MSG_PASS_THROUGH) {
    if (id <= MSG_KEEP_ALIVE) {
      m.func = SESSION_BASE + id;
      m.funcName = HART_COMMANDS[m.func]!;
    } else m.funcName = fields.message_id as string;
    if (id === MSG_SESSION_INITIATE && end - off >= HEADER + 5) {
      fields.master_type = b[off + 8]! === 1 ? 'primary' : 'secondary';
      fields.inactivity_close_timer = u16be(b, off + 9) * 65536 + u16be(b, off + 11);
    }
    return;
  }
  passThrough(m, b, off + HEADER, end);
}

/** A HART PDU inside a pass-through message. */
function passThrough(m: Message, b: Uint8Array, p: number, end: number): void {
  const f = m.fields!;
  while (p < end && b[p] === 0xff) p++; // preambles, which HART-IP normally omits
  const start = p;
  if (p >= end) {
    malformed(m, 'pdu_truncated', 'pass-through without a HART PDU');
    return;
  }
  const delim = b[p++]!;
  const frame = delim & 0x07;
  if (frame !== FRAME_STX && frame !== FRAME_ACK && frame !== FRAME_BACK) {
    malformed(m, 'delimiter_invalid', `delimiter 0x${delim.toString(16)}: frame type ${frame}`);
    return;
  }
  const long = (delim & 0x80) !== 0;
  const expansion = (delim >> 5) & 0x03;
  const need = (long ? 5 : 1) + expansion + 2;
  if (p + need > end) {
    malformed(m, 'pdu_truncated', 'HART PDU ends inside its address or command');
    return;
  }
  if (long) {
    // Master and burst bits aside: expanded device type (2 bytes) and device id (3 bytes).
    f.device_type = ((b[p]! & 0x3f) << 8) | b[p + 1]!;
    f.device_id = u24be(b, p + 2);
    f.long_address = hex(Uint8Array.of(b[p]! & 0x3f), 0, 1) + hex(b, p + 1, 4);
    m.unit = f.device_id;
    p += 5;
  } else {
    m.unit = b[p]! & 0x3f;
    f.polling_address = m.unit;
    p += 1;
  }
  p += expansion;
  let command = b[p++]!;
  const count = b[p++]!;
  const reply = frame !== FRAME_STX;
  let data = p,
    dataEnd = p + count;
  if (dataEnd > end) {
    malformed(m, 'pdu_truncated', `byte count ${count}, ${end - p} bytes left`);
    dataEnd = end;
  }
  if (reply && dataEnd - data >= 2) {
    const rc = b[data]!;
    f.response_code = rc;
    f.device_status = b[data + 1]!;
    // Response codes 1–7 and 16–23, 32, 64 are errors; 8 (update failure), 14, 24–31 warnings (HCF_SPEC-307).
    if (rc !== 0 && rc < 128 && !isWarning(rc)) m.exception = rc;
    data += 2;
  }
  if (command === CMD_EXTENDED && dataEnd - data >= 2) {
    f.extended = true;
    command = u16be(b, data);
    data += 2;
  }
  m.func = command;
  m.funcName = HART_COMMANDS[command] ?? `COMMAND_${command}`;
  if (frame === FRAME_BACK) m.role = 'unsolicited';
  m.write = m.role === 'request' && HART_WRITES.has(command);
  if (m.anomaly === null) {
    if (dataEnd >= end) malformed(m, 'pdu_truncated', 'HART PDU without its check byte');
    else {
      let x = 0;
      for (let i = start; i < dataEnd; i++) x ^= b[i]!;
      if (x !== b[dataEnd]!)
        malformed(
          m,
          'checksum_mismatch',
          `check byte 0x${b[dataEnd]!.toString(16)}, computed 0x${x.toString(16)}`,
        );
    }
  }
  if (!reply || m.exception !== -1) {
    if (command === CMD_WRITE_RANGE && dataEnd - data >= 9)
      m.values = [f32(b, data + 1), f32(b, data + 5)];
    return;
  }
  if (command === CMD_READ_UNIQUE_ID) uniqueIdentifier(m, b, data, dataEnd, !long && m.unit === 0);
  else if (command === CMD_READ_PV && dataEnd - data >= 5) m.values = [f32(b, data + 1)];
  else if (command === CMD_READ_CURRENT && dataEnd - data >= 8)
    m.values = [f32(b, data), f32(b, data + 4)];
  else if (command === CMD_READ_DYNAMIC && dataEnd - data >= 4) {
    // Loop current, then up to four (units, value) dynamic variables.
    const values = [f32(b, data)];
    for (let q = data + 4; q + 5 <= dataEnd && values.length < 5; q += 5)
      values.push(f32(b, q + 1));
    m.values = values;
  }
}

/** An IEEE 754 single, big-endian as HART sends it. */
function f32(b: Uint8Array, o: number): number {
  return new DataView(b.buffer, b.byteOffset + o, 4).getFloat32(0, false);
}

function isWarning(rc: number): boolean {
  return rc === 8 || rc === 14 || (rc >= 24 && rc <= 31);
}

/**
 * Command 0 reply (HCF_SPEC-127 §6.1): who the field device is. Only polling address 0 by short frame is the HART-IP
 * server itself (a HART-IP device, or a gateway's own I/O system identity); devices behind a gateway answer at other
 * addresses and are not IP assets, so their identity stays in the message's fields.
 */
function uniqueIdentifier(m: Message, b: Uint8Array, p: number, end: number, self: boolean): void {
  if (end - p < 12 || b[p] !== CMD0_EXPANSION) return;
  const f = m.fields!;
  const universal = b[p + 4]!;
  const deviceType = u16be(b, p + 1);
  // HART 7 replies carry the manufacturer in bytes 17–18; before, the first byte of the device type was it.
  const manufacturer = universal >= 7 && end - p >= 19 ? u16be(b, p + 17) : b[p + 1]!;
  f.device_type = deviceType;
  f.manufacturer_id = manufacturer;
  f.hart_revision = universal;
  f.device_revision = b[p + 5]!;
  f.software_revision = b[p + 6]!;
  f.hardware_revision = b[p + 7]! >> 3;
  f.device_id = u24be(b, p + 9);
  if (!self) return;
  m.identity = {
    vendor: `HART manufacturer 0x${manufacturer.toString(16).padStart(4, '0')}`,
    model: `device type 0x${deviceType.toString(16).padStart(4, '0')} rev ${b[p + 5]!}`,
    firmware: `${b[p + 6]!}`,
    hardware: `${b[p + 7]! >> 3}`,
    serial: `${u24be(b, p + 9)}`,
    deviceType: 'HART field device',
    about: 'src',
  };
}

export const hartipTcp: StreamDissector<null> = {
  protocol: 'hartip',
  newState: () => null,
  pduLength,
  dissect: (b, off, len, ctx, toServer, out) => message(b, off, len, ctx, toServer, out),
  resync,
};

/** One HART-IP message per datagram; a datagram too short for its byte count is reported as it is. */
export const hartipUdp: DatagramDissector = {
  protocol: 'hartip',
  dissect(b, off, len, ctx, toServer, out) {
    let p = off;
    const end = off + len;
    while (p < end) {
      const n = pduLength(b, p, end - p);
      if (n < 0) return;
      const take = n === 0 || p + n > end ? end - p : n;
      message(b, p, take, ctx, toServer, out);
      p += take;
    }
  },
};

export const hartipProtocol: ProtocolDescriptor<HartipAnomaly> = {
  name: 'hartip',
  title: 'HART-IP',
  industrial: true,
  serverPort: { transport: 'udp', port: 5094 },
  ports: { tcp: [5094], udp: [5094] },
  etherTypes: [],
  functions: HART_COMMANDS,
  category: hartipCategory,
  operations: HART_OPERATIONS,
  gateway: false,
  anomalies: HARTIP_ANOMALIES,
  stream: hartipTcp,
  datagram: hartipUdp,
};
