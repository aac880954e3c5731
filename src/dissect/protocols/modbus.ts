import type { ProtocolDescriptor, RequestedMode, StreamDissector } from '../protocol.js';
import {
  unwalked,
  newMessage,
  type Message,
  type Target,
  type IdentityFacts,
  markMalformed,
  type Malformed,
} from '../message.js';
import { u16be, ascii } from '../bytes.js';
import { modbusCategory } from './modbus-categories.js';
import { UMAS_FUNCTIONS, umasKey, umasRequest, umasResponse } from './modbus-umas.js';

/** Public Modbus function codes (Modbus Application Protocol v1.1b3), names in Zeek ICSNPP style. */
export const MODBUS_FUNCTIONS: Record<number, string> = {
  1: 'READ_COILS',
  2: 'READ_DISCRETE_INPUTS',
  3: 'READ_HOLDING_REGISTERS',
  4: 'READ_INPUT_REGISTERS',
  5: 'WRITE_SINGLE_COIL',
  6: 'WRITE_SINGLE_REGISTER',
  7: 'READ_EXCEPTION_STATUS',
  8: 'DIAGNOSTICS',
  11: 'GET_COMM_EVENT_COUNTER',
  12: 'GET_COMM_EVENT_LOG',
  15: 'WRITE_MULTIPLE_COILS',
  16: 'WRITE_MULTIPLE_REGISTERS',
  17: 'REPORT_SLAVE_ID',
  20: 'READ_FILE_RECORD',
  21: 'WRITE_FILE_RECORD',
  22: 'MASK_WRITE_REGISTER',
  23: 'READ_WRITE_MULTIPLE_REGISTERS',
  24: 'READ_FIFO_QUEUE',
  43: 'ENCAP_INTERFACE_TRANSPORT',
  90: 'UMAS',
};
const FUNC_NAMES: string[] = Array.from(
  { length: 128 },
  (_, i) => MODBUS_FUNCTIONS[i] ?? `FUNCTION_${i}`,
);
const DEVICE_ID_OBJECTS: Record<number, keyof IdentityFacts | 'url' | 'application'> = {
  0: 'vendor',
  1: 'product',
  2: 'firmware',
  3: 'url',
  4: 'product',
  5: 'model',
  6: 'application',
};
/** Diagnostics sub-functions that change the device's state (restart comms, force listen-only, clear counters). */
const DIAG_WRITES = new Set([1, 4, 10, 20]);

/** The Modbus function code Schneider's UMAS engineering protocol rides in. */
export const FC_UMAS = 90;
/** UMAS function bytes (public protocol write-ups) that start and stop the PLC. */
export const UMAS_START_PLC = 0x40;
export const UMAS_STOP_PLC = 0x41;
/**
 * UMAS function bytes that change the device: start/stop, sending a program into the PLC (Schneider's "upload",
 * 0x30–0x32; 0x33–0x35 read it out) and writes of memory, variables, coils/registers and I/O objects.
 */
const UMAS_WRITES = new Set([
  UMAS_START_PLC,
  UMAS_STOP_PLC,
  0x42,
  0x30,
  0x31,
  0x32,
  0x21,
  0x23,
  0x25,
  0x71,
]);
/** Bit set in the function code of an exception response. */
const EXCEPTION_BIT = 0x80;
/** FC 5 coil values: ON is 0xFF00, OFF is 0x0000; anything else is malformed. */
const COIL_ON = 0xff00;
/** MEI type of Read Device Identification (FC 43). */
const MEI_READ_DEVICE_ID = 14;
/** The spec's largest MBAP length (unit id + PDU of at most 253 bytes). */
const SPEC_MBAP_LENGTH = 254;
/**
 * Longest MBAP length decoded: UMAS and broken stacks send PDUs over 253 bytes, which are decoded and flagged
 * (pdu_oversize); far longer is taken for something else than Modbus.
 */
const MAX_MBAP_LENGTH = 1024;

/** Kinds of malformed Modbus PDU (the `kind` of a Message's anomaly). */
export const MODBUS_ANOMALIES = [
  'exception_without_code',
  'truncated',
  'quantity_out_of_range',
  'coil_value_invalid',
  'byte_count_mismatch',
  'byte_count_overrun',
  'device_id_truncated',
  'pdu_oversize',
  'trailing_bytes',
  'exception_in_request',
  'reference_type_invalid',
] as const;
export type ModbusAnomaly = (typeof MODBUS_ANOMALIES)[number];

const malformed: Malformed<ModbusAnomaly> = markMalformed;

/** Modbus/TCP: MBAP header (transaction, protocol 0, length, unit) then the PDU. */
export const modbus: StreamDissector<null> = {
  protocol: 'modbus',
  newState: () => null,
  pduLength(b, off, avail) {
    if (avail < 8) return avail >= 4 && (b[off + 2] !== 0 || b[off + 3] !== 0) ? -1 : 0;
    if (b[off + 2] !== 0 || b[off + 3] !== 0) return -1;
    const len = u16be(b, off + 4);
    if (len < 2 || len > MAX_MBAP_LENGTH) return -1;
    return 6 + len;
  },
  dissect(b, off, len, ctx, toServer, out) {
    const m = newMessage(ctx, 'modbus');
    m.txId = u16be(b, off);
    m.unit = b[off + 6]!;
    m.role = toServer ? 'request' : 'response';
    out.push(m);
    const fc = b[off + 7]!;
    const p = off + 8,
      end = off + len;
    if (fc & EXCEPTION_BIT) {
      m.func = fc ^ EXCEPTION_BIT;
      m.funcName = FUNC_NAMES[m.func]!;
      // Only a server answers with the exception bit. From a client it is no request Weir can judge (its
      // addresses are never read), and a server that masks the bit would run it as the plain function.
      if (toServer) {
        malformed(
          m,
          'exception_in_request',
          `function code 0x${fc.toString(16)} carries the exception bit`,
        );
        return;
      }
      m.exception = end > p ? b[p]! : -1;
      if (end <= p) malformed(m, 'exception_without_code', 'exception response without code');
      else oversize(m, len);
      return;
    }
    m.func = fc;
    m.funcName = FUNC_NAMES[fc]!;
    if (toServer) request(m, b, p, end);
    else response(m, b, p, end);
    oversize(m, len);
  },
};

/** A PDU over the spec's 253 bytes is decoded, and flagged (other findings on it kept in the detail). */
function oversize(m: Message, len: number): void {
  if (len - 6 <= SPEC_MBAP_LENGTH) return;
  const other = m.anomaly === null ? '' : `; ${m.anomaly.detail}`;
  malformed(m, 'pdu_oversize', `PDU of ${len - 7} bytes exceeds the 253-byte Modbus limit${other}`);
}

function range(space: string, start: number, count: number): Target[] {
  return [{ space, start, count }];
}

function words(b: Uint8Array, p: number, n: number, end: number): number[] {
  const v: number[] = [];
  for (let i = 0; i < n && p + 2 * i + 1 < end; i++) v.push(u16be(b, p + 2 * i));
  return v;
}

function bits(b: Uint8Array, p: number, n: number, end: number): number[] {
  const v: number[] = [];
  for (let i = 0; i < n && p + (i >> 3) < end; i++) v.push((b[p + (i >> 3)]! >> (i & 7)) & 1);
  return v;
}

/**
 * A request of fixed layout that the MBAP length says runs on: a server that frames by the function's own
 * length would take the rest for its next request (a write behind a read), so it cannot pass as the read.
 */
function exact(m: Message, have: number, want: number): void {
  if (have > want && m.anomaly === null)
    malformed(
      m,
      'trailing_bytes',
      `${m.funcName} request runs ${have - want} bytes past its ${want}-byte layout`,
    );
}

function need(m: Message, have: number, want: number): boolean {
  if (have >= want) return true;
  malformed(m, 'truncated', `${m.funcName} truncated: ${have} of ${want} bytes`);
  return false;
}

const READ_SPACE: Record<number, string> = {
  1: 'coil',
  2: 'discrete_input',
  3: 'holding_register',
  4: 'input_register',
};

function request(m: Message, b: Uint8Array, p: number, end: number): void {
  const n = end - p;
  switch (m.func) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (!need(m, n, 4)) return;
      const qty = u16be(b, p + 2);
      m.targets = range(READ_SPACE[m.func]!, u16be(b, p), qty);
      const max = m.func <= 2 ? 2000 : 125;
      if (qty === 0 || qty > max)
        malformed(m, 'quantity_out_of_range', `quantity ${qty} outside 1..${max}`);
      exact(m, n, 4);
      return;
    }
    case 5: {
      if (!need(m, n, 4)) return;
      m.write = true;
      const v = u16be(b, p + 2);
      m.targets = range('coil', u16be(b, p), 1);
      m.values = [v === COIL_ON ? 1 : 0];
      if (v !== COIL_ON && v !== 0)
        malformed(m, 'coil_value_invalid', `coil value 0x${v.toString(16)} is neither ON nor OFF`);
      exact(m, n, 4);
      return;
    }
    case 6:
      if (!need(m, n, 4)) return;
      m.write = true;
      m.targets = range('holding_register', u16be(b, p), 1);
      m.values = [u16be(b, p + 2)];
      exact(m, n, 4);
      return;
    case 15:
    case 16: {
      if (!need(m, n, 5)) return;
      m.write = true;
      const qty = u16be(b, p + 2),
        byteCount = b[p + 4]!;
      const coils = m.func === 15;
      m.targets = range(coils ? 'coil' : 'holding_register', u16be(b, p), qty);
      m.values = coils ? bits(b, p + 5, qty, end) : words(b, p + 5, qty, end);
      const want = coils ? (qty + 7) >> 3 : qty * 2;
      if (byteCount !== want || n - 5 < byteCount)
        malformed(
          m,
          'byte_count_mismatch',
          `byte count ${byteCount} does not match quantity ${qty}`,
        );
      exact(m, n, 5 + byteCount);
      return;
    }
    case 8:
      if (!need(m, n, 2)) return;
      m.subfunc = u16be(b, p);
      m.write = DIAG_WRITES.has(m.subfunc);
      // Return Query Data (0) echoes any data; every other sub-function carries one 2-byte data field.
      if (m.subfunc !== 0) exact(m, n, 4);
      return;
    case 22:
      if (!need(m, n, 6)) return;
      m.write = true;
      m.targets = range('holding_register', u16be(b, p), 1);
      m.fields = { and_mask: u16be(b, p + 2), or_mask: u16be(b, p + 4) };
      exact(m, n, 6);
      return;
    case 23: {
      // Read start, read quantity, write start, write quantity, write byte count, then the registers written.
      if (!need(m, n, 9)) return;
      m.write = true;
      const writeQuantity = u16be(b, p + 6);
      m.targets = [
        { space: 'holding_register', start: u16be(b, p), count: u16be(b, p + 2) },
        { space: 'holding_register', start: u16be(b, p + 4), count: writeQuantity },
      ];
      m.values = words(b, p + 9, writeQuantity, end);
      m.fields = {
        read_start: u16be(b, p),
        read_quantity: u16be(b, p + 2),
        write_start: u16be(b, p + 4),
        write_quantity: writeQuantity,
      };
      if (b[p + 8]! !== writeQuantity * 2)
        malformed(
          m,
          'byte_count_mismatch',
          `byte count ${b[p + 8]!} does not match write quantity ${writeQuantity}`,
        );
      exact(m, n, 9 + b[p + 8]!);
      return;
    }
    case 24:
      if (!need(m, n, 2)) return;
      m.targets = range('fifo', u16be(b, p), 1);
      exact(m, n, 2);
      return;
    case 7:
    case 11:
    case 12:
    case 17:
      // Read exception status, comm event counter/log, report server id: the function code alone.
      exact(m, n, 0);
      return;
    case 20:
    case 21:
      fileRecords(m, b, p, end);
      return;
    case 43:
      if (!need(m, n, 1)) return;
      m.subfunc = b[p]!;
      if (m.subfunc !== MEI_READ_DEVICE_ID || !need(m, n, 3)) return;
      m.fields = { read_device_id_code: b[p + 1]!, object_id: b[p + 2]! };
      exact(m, n, 3);
      return;
    case FC_UMAS:
      // Schneider UMAS: session key and UMAS function follow; program transfer and start/stop travel here.
      if (!need(m, n, 2)) return;
      umasRequest(m, b, p, end);
      if (m.subfunc >= 0) m.write = UMAS_WRITES.has(m.subfunc);
      return;
    default:
      return;
  }
}

/** File record reference type, the only one the spec defines. */
const FILE_REFERENCE_TYPE = 6;

/**
 * FC 20/21 requests: a byte count, then sub-requests (reference type 6, file number, record number, record
 * length, and for FC 21 the record's words). The byte count must be the rest of the PDU and the last sub-request
 * must end where the PDU does: a server that frames by the byte count would run any bytes after as a request.
 */
function fileRecords(m: Message, b: Uint8Array, p: number, end: number): void {
  if (!need(m, end - p, 1)) return;
  m.write = m.func === 21;
  const byteCount = b[p]!;
  if (byteCount !== end - p - 1)
    malformed(
      m,
      'byte_count_mismatch',
      `byte count ${byteCount} does not match the ${end - p - 1} bytes after it`,
    );
  const targets: Target[] = [];
  let q = p + 1;
  while (q + 7 <= end && targets.length < 35) {
    if (b[q] !== FILE_REFERENCE_TYPE && m.anomaly === null)
      malformed(m, 'reference_type_invalid', `reference type ${b[q]!} is not 6`);
    const recLen = u16be(b, q + 5);
    targets.push({ space: `file_${u16be(b, q + 1)}`, start: u16be(b, q + 3), count: recLen });
    q += 7 + (m.func === 21 ? recLen * 2 : 0);
  }
  if (q + 7 <= end) targets.push(unwalked());
  else if (q !== end && m.anomaly === null)
    malformed(
      m,
      q > end ? 'truncated' : 'trailing_bytes',
      q > end
        ? `${m.funcName} sub-request runs ${q - end} bytes past the PDU`
        : `${m.funcName} runs ${end - q} bytes past its last whole sub-request`,
    );
  m.targets = targets.length ? targets : null;
}

function response(m: Message, b: Uint8Array, p: number, end: number): void {
  const n = end - p;
  switch (m.func) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (!need(m, n, 1)) return;
      const byteCount = b[p]!;
      if (n - 1 < byteCount)
        malformed(m, 'byte_count_overrun', `byte count ${byteCount} exceeds PDU (${n - 1} bytes)`);
      m.values =
        m.func <= 2 ? bits(b, p + 1, byteCount * 8, end) : words(b, p + 1, byteCount >> 1, end);
      return;
    }
    case 5:
    case 6:
      if (!need(m, n, 4)) return;
      m.write = true;
      m.targets = range(m.func === 5 ? 'coil' : 'holding_register', u16be(b, p), 1);
      m.values = [m.func === 5 ? (u16be(b, p + 2) === COIL_ON ? 1 : 0) : u16be(b, p + 2)];
      return;
    case 15:
    case 16:
      if (!need(m, n, 4)) return;
      m.write = true;
      m.targets = range(m.func === 15 ? 'coil' : 'holding_register', u16be(b, p), u16be(b, p + 2));
      return;
    case 23: {
      if (!need(m, n, 1)) return;
      m.values = words(b, p + 1, b[p]! >> 1, end);
      return;
    }
    case 8:
      if (n >= 2) m.subfunc = u16be(b, p);
      return;
    case 17: {
      if (!need(m, n, 1)) return;
      const bc = b[p]!;
      if (bc >= 2 && n >= 1 + bc) {
        const run = b[p + bc]!; // run indicator status is the last byte of the server id block
        const id: IdentityFacts = {
          plcMode: run === 0xff ? 'RUN' : run === 0 ? 'STOP' : undefined,
        };
        const text = ascii(b, p + 2, bc - 2);
        if (text.length >= 3) id.product = text;
        if (id.plcMode === undefined) delete id.plcMode;
        m.identity = id;
        m.fields = { server_id: b[p + 1]! };
      }
      return;
    }
    case 43:
      if (!need(m, n, 1)) return;
      m.subfunc = b[p]!;
      if (m.subfunc === MEI_READ_DEVICE_ID) deviceIdentification(m, b, p, end);
      return;
    case FC_UMAS:
      umasResponse(m, b, p, end);
      return;
    default:
      return;
  }
}

/** FC 43 / MEI 14 response: conformity, more-follows, next id, count, then (id, length, value) objects. */
function deviceIdentification(m: Message, b: Uint8Array, p: number, end: number): void {
  if (end - p < 6) {
    malformed(m, 'device_id_truncated', 'device identification truncated');
    return;
  }
  const count = b[p + 5]!;
  const id: IdentityFacts = {};
  const fields: Record<string, string | number> = {
    conformity_level: b[p + 2]!,
    more_follows: b[p + 3]!,
  };
  let q = p + 6;
  for (let i = 0; i < count; i++) {
    if (q + 2 > end) {
      malformed(m, 'device_id_truncated', 'device identification object truncated');
      break;
    }
    const oid = b[q]!,
      olen = b[q + 1]!;
    if (q + 2 + olen > end) {
      malformed(m, 'device_id_truncated', 'device identification object truncated');
      break;
    }
    const text = ascii(b, q + 2, olen);
    const key = DEVICE_ID_OBJECTS[oid];
    if (key === 'url' || key === 'application')
      fields[key === 'url' ? 'vendor_url' : 'user_application'] = text;
    else if (key === 'product' && oid === 4) {
      id.product = text;
      fields.product_name = text;
    } else if (key === 'product') {
      fields.product_code = text;
      if (!id.product) id.product = text;
    } else if (key !== undefined) (id as Record<string, string>)[key] = text;
    else fields[`object_${oid}`] = text;
    q += 2 + olen;
  }
  m.identity = id;
  m.fields = fields;
}

/**
 * Engineering operations: diagnostics, identification and Schneider UMAS (program and configuration access).
 * Always worth a line, even from the usual engineering workstation.
 */
const OPERATIONS = {
  8: {
    kind: 'diagnostic_command',
    what: 'sent a diagnostics command (can restart communications or force listen-only)',
  },
  17: { kind: 'device_probe', what: 'asked for the server id' },
  43: { kind: 'device_probe', what: 'read the device identification' },
  [FC_UMAS]: {
    kind: 'config_change',
    what: 'used the Schneider UMAS engineering function (program/config access)',
  },
} as const;

/** UMAS STOP_PLC and START_PLC (FC 90, function bytes 0x41/0x40). */
function requestedMode(m: Message): RequestedMode | null {
  if (m.func !== FC_UMAS) return null;
  return m.subfunc === UMAS_STOP_PLC ? 'STOP' : m.subfunc === UMAS_START_PLC ? 'RUN' : null;
}

export const modbusProtocol: ProtocolDescriptor<ModbusAnomaly> = {
  name: 'modbus',
  title: 'Modbus/TCP',
  industrial: true,
  serverPort: { transport: 'tcp', port: 502 },
  ports: { tcp: [502], udp: [] },
  etherTypes: [],
  // UMAS functions by key too, so a policy may allow 'umas_read_id' without all of FC 90.
  functions: {
    ...MODBUS_FUNCTIONS,
    ...Object.fromEntries(
      Object.entries(UMAS_FUNCTIONS).map(([f, n]) => [umasKey(Number(f)), `UMAS_${n}`]),
    ),
  },
  category: modbusCategory,
  subFunctionKey: (m) => (m.func === FC_UMAS && m.subfunc >= 0 ? umasKey(m.subfunc) : -1),
  operations: OPERATIONS,
  requestedMode,
  anomalies: MODBUS_ANOMALIES,
  stream: modbus,
};
