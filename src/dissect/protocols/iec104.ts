import type { ProtocolDescriptor, StreamDissector } from '../protocol.js';
import { newMessage, type Target, markMalformed, type Malformed, unwalked } from '../message.js';
import { u16le, u24le } from '../bytes.js';
import {
  C_CI_NA_1,
  CAUSES,
  COUNTER_FRZ,
  COUNTER_KEY_NAMES,
  counterKey,
  ELEMENT_SIZE,
  TYPE_NAMES,
  U_FUNCTIONS,
} from './iec104-tables.js';
import { iec104Category } from './iec104-categories.js';

/**
 * Command and parameter types change the controlled station (interrogation and read are requests for data,
 * not changes; clock sync, reset process, set-points and parameters are).
 */
function isWrite(type: number): boolean {
  return (
    (type >= 45 && type <= 69) ||
    type === 103 ||
    type === 104 ||
    type === 105 ||
    type === 106 ||
    type === 107 ||
    (type >= 110 && type <= 113) ||
    type === 124 ||
    type === 125
  );
}

/** Start octet of every APCI. */
const APCI_START = 0x68;
/** Causes of transmission (IEC 60870-5-101 7.2.3) that decide a message's direction. */
const COT_PERIODIC = 1;
const COT_BACKGROUND = 2;
const COT_SPONTANEOUS = 3;
const COT_REQUEST = 5;
const COT_ACTIVATION = 6;
const COT_DEACTIVATION = 8;
const COT_INTERROGATED = 20;

/** Kinds of malformed IEC 104 APDU (the `kind` of a Message's anomaly). */
export const IEC104_ANOMALIES = [
  'apdu_length_invalid',
  'asdu_header_truncated',
  'objects_truncated',
] as const;
export type Iec104Anomaly = (typeof IEC104_ANOMALIES)[number];

const malformed: Malformed<Iec104Anomaly> = markMalformed;

/** IEC 60870-5-104: APCI (start 0x68, length, four control octets) and, in I-format, one ASDU. */
export const iec104: StreamDissector<null> = {
  protocol: 'iec104',
  newState: () => null,
  pduLength(b, off, avail) {
    if (avail < 1) return 0;
    if (b[off] !== APCI_START) return -1;
    if (avail < 2) return 0;
    const len = b[off + 1]!;
    return len < 4 ? -1 : len + 2;
  },
  resync(b, off, end) {
    for (let p = off; p + 6 <= end; p++) {
      if (b[p] !== 0x68) continue;
      const len = b[p + 1]!,
        c1 = b[p + 2]!;
      // S and U frames are exactly 4 control octets; an I frame carries at least an ASDU header.
      if ((c1 & 1) === 1 ? len !== 4 : len < 10) continue;
      const next = p + 2 + len;
      if (next >= end || b[next] === 0x68) return p;
    }
    return -1;
  },
  dissect(b, off, len, ctx, toServer, out) {
    const m = newMessage(ctx, 'iec104');
    out.push(m);
    const c1 = b[off + 2]!;
    m.role = toServer ? 'request' : 'response';
    if ((c1 & 1) === 1) {
      if ((c1 & 3) === 1) {
        m.funcName = 'S';
        m.fields = { apdu_type: 'S', recv_seq: u16le(b, off + 4) >> 1 };
      } else {
        const bits = c1 & 0xfc;
        m.subfunc = bits;
        m.funcName = U_FUNCTIONS[bits] ?? `U_0x${bits.toString(16)}`;
        m.fields = { apdu_type: 'U', u_function: m.funcName };
        m.role = (bits & 0x54) !== 0 ? 'request' : 'response';
      }
      if (len !== 6)
        malformed(
          m,
          'apdu_length_invalid',
          `${m.funcName}-format APDU of length ${len - 2}, expected 4`,
        );
      return;
    }
    const fields: Record<string, string | number | boolean> = {
      apdu_type: 'I',
      send_seq: u16le(b, off + 2) >> 1,
      recv_seq: u16le(b, off + 4) >> 1,
    };
    m.fields = fields;
    const a = off + 6,
      end = off + len;
    if (end - a < 6) {
      malformed(m, 'asdu_header_truncated', 'ASDU header truncated');
      return;
    }
    const type = b[a]!,
      vsq = b[a + 1]!,
      cot = b[a + 2]!;
    const sq = (vsq & 0x80) !== 0,
      n = vsq & 0x7f;
    const cause = cot & 0x3f;
    m.func = type;
    m.funcName = TYPE_NAMES[type] ?? `TYPE_${type}`;
    m.unit = u16le(b, a + 4);
    fields.info_obj_type = m.funcName;
    fields.cause_tx = CAUSES[cause] ?? `cause_${cause}`;
    fields.negative = (cot & 0x40) !== 0;
    fields.test = (cot & 0x80) !== 0;
    fields.originator_address = b[a + 3]!;
    fields.common_address = m.unit;
    fields.num_objects = n;
    fields.sq = sq;
    if (fields.negative) m.exception = cause;
    // Direction by cause: activation/deactivation go to the controlled station; confirmations come back.
    const activation = cause === COT_ACTIVATION || cause === COT_DEACTIVATION;
    m.role =
      activation || cause === COT_REQUEST
        ? 'request'
        : cause === COT_SPONTANEOUS ||
            cause === COT_PERIODIC ||
            cause === COT_BACKGROUND ||
            cause === COT_INTERROGATED
          ? 'unsolicited'
          : 'response';
    m.write = isWrite(type) && activation;
    const size = ELEMENT_SIZE[type];
    let p = a + 6;
    if (n === 0) return;
    if (size === undefined) {
      // Objects of a size Weir does not know (file transfer): only the first address can be read, the others
      // cannot be held to an address list.
      if (p + 3 <= end) m.targets = [{ space: 'ioa', start: u24le(b, p), count: 1 }];
      if (n > 1) (m.targets ??= []).push(unwalked());
      return;
    }
    const values: number[] = [];
    const targets: Target[] = [];
    // A counter interrogation's FRZ, the strongest of its objects' (one object is the rule; more are not trusted).
    let frz = -1;
    if (sq) {
      if (p + 3 + n * size > end)
        malformed(m, 'objects_truncated', 'information objects truncated');
      const ioa = p + 3 <= end ? u24le(b, p) : 0;
      targets.push({ space: 'ioa', start: ioa, count: n });
      p += 3;
      for (let i = 0; i < n && p + size <= end; i++, p += size) {
        if (type === C_CI_NA_1) frz = Math.max(frz, b[p]! >> 6);
        const v = value(b, p, type);
        if (v !== null) values.push(v);
      }
    } else {
      if (p + n * (3 + size) > end)
        malformed(m, 'objects_truncated', 'information objects truncated');
      for (let i = 0; i < n && p + 3 + size <= end; i++, p += 3 + size) {
        const ioa = u24le(b, p);
        const last = targets[targets.length - 1];
        if (last && last.start + last.count === ioa) last.count++;
        else targets.push({ space: 'ioa', start: ioa, count: 1 });
        if (type === C_CI_NA_1) frz = Math.max(frz, b[p + 3]! >> 6);
        const v = value(b, p + 3, type);
        if (v !== null) values.push(v);
      }
    }
    m.targets = targets.length ? targets : null;
    if (values.length) m.values = values;
    if (frz >= 0) {
      m.subfunc = frz;
      fields.counter_frz = COUNTER_FRZ[frz]!;
      // Freeze with reset and reset zero the station's integrated totals (energy, flow): a change, not a read.
      if (frz >= 2 && activation) m.write = true;
    }
  },
};

/** The process value of one element for the common measured and command types. */
function value(b: Uint8Array, p: number, type: number): number | null {
  switch (type) {
    case 1:
    case 2:
    case 30:
    case 45:
    case 58:
      return b[p]! & 1;
    case 3:
    case 4:
    case 31:
    case 46:
    case 59:
      return b[p]! & 3;
    case 9:
    case 10:
    case 11:
    case 12:
    case 34:
    case 35:
    case 48:
    case 49:
    case 61:
    case 62:
    case 110:
    case 111:
      return (u16le(b, p) << 16) >> 16;
    case 13:
    case 14:
    case 36:
    case 50:
    case 63:
    case 112: {
      const f = new DataView(b.buffer, b.byteOffset + p, 4).getFloat32(0, true);
      return Number.isFinite(f) ? Math.round(f * 1e6) / 1e6 : null;
    }
    default:
      return null;
  }
}

/** Reset process, and the file transfer types (call, segment) and their file housekeeping. */
const OPERATIONS = {
  105: { kind: 'device_restart', what: 'sent a reset process command' },
  120: { kind: 'file_management', what: 'announced a file ready' },
  121: { kind: 'file_management', what: 'announced a section ready' },
  122: { kind: 'file_transfer', what: 'called a file/section for transfer' },
  123: { kind: 'file_management', what: 'ended a section or file' },
  124: { kind: 'file_management', what: 'acknowledged a file or section' },
  125: { kind: 'file_transfer', what: 'sent a file segment' },
  126: { kind: 'file_management', what: 'listed the directory' },
} as const;

export const iec104Protocol: ProtocolDescriptor<Iec104Anomaly> = {
  name: 'iec104',
  title: 'IEC 60870-5-104',
  industrial: true,
  outstation: true,
  serverPort: { transport: 'tcp', port: 2404 },
  ports: { tcp: [2404], udp: [] },
  etherTypes: [],
  functions: { ...TYPE_NAMES, ...COUNTER_KEY_NAMES },
  category: iec104Category,
  subFunctionKey: (m) => (m.func === C_CI_NA_1 && m.subfunc >= 0 ? counterKey(m.subfunc) : -1),
  operations: OPERATIONS,
  anomalies: IEC104_ANOMALIES,
  stream: iec104,
};
