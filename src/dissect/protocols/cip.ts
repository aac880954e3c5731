import {
  newMessage,
  type Message,
  type PduContext,
  markMalformed,
  type Malformed,
} from '../message.js';
import type { ProtocolDescriptor, RequestedMode } from '../protocol.js';
import { enipCategory } from './enip-categories.js';
import { ascii, u16le, u32le } from '../bytes.js';
import {
  forwardOpenReply,
  forwardOpenRequest,
  SERVICE_FORWARD_OPEN,
  SERVICE_LARGE_FORWARD_OPEN,
} from './cip-forward-open.js';

/** CIP common services (Volume 1, Appendix A) and frequent object-specific ones. */
export const CIP_SERVICES: Record<number, string> = {
  0x01: 'GET_ATTRIBUTE_ALL',
  0x02: 'SET_ATTRIBUTE_ALL',
  0x03: 'GET_ATTRIBUTE_LIST',
  0x04: 'SET_ATTRIBUTE_LIST',
  0x05: 'RESET',
  0x06: 'START',
  0x07: 'STOP',
  0x08: 'CREATE',
  0x09: 'DELETE',
  0x0a: 'MULTIPLE_SERVICE_PACKET',
  0x0d: 'APPLY_ATTRIBUTES',
  0x0e: 'GET_ATTRIBUTE_SINGLE',
  0x10: 'SET_ATTRIBUTE_SINGLE',
  0x11: 'FIND_NEXT_OBJECT_INSTANCE',
  0x14: 'ERROR_RESPONSE',
  0x15: 'RESTORE',
  0x16: 'SAVE',
  0x17: 'NO_OPERATION',
  0x18: 'GET_MEMBER',
  0x19: 'SET_MEMBER',
  0x1a: 'INSERT_MEMBER',
  0x1b: 'REMOVE_MEMBER',
  0x1c: 'GROUP_SYNC',
  0x4b: 'EXECUTE_PCCC',
  0x4c: 'READ_TAG',
  0x4d: 'WRITE_TAG',
  0x4e: 'FORWARD_CLOSE',
  0x52: 'UNCONNECTED_SEND',
  0x53: 'WRITE_TAG_FRAGMENTED',
  0x54: 'FORWARD_OPEN',
  0x55: 'GET_INSTANCE_ATTRIBUTE_LIST',
  0x5b: 'LARGE_FORWARD_OPEN',
  // 0x4E off the Connection Manager: the Logix Read Modify Write Tag service (1756-PM020), see OTHER_OBJECT.
  0x14e: 'READ_MODIFY_WRITE_TAG',
};
const WRITES = new Set([
  0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0d, 0x10, 0x15, 0x19, 0x1a, 0x1b, 0x4d, 0x4f, 0x53,
  0x14e,
]);
/**
 * Service codes 0x4B–0x63 are object-specific: Forward_Close (0x4E), Forward_Open (0x54) and Large_Forward_Open
 * (0x5B) are those services on the Connection Manager only, and on a tag 0x4E sets and clears bits of it. Sent to
 * any other object, the code gets this bit, so a function list naming `forward_close` does not admit it.
 */
const OTHER_OBJECT = 0x100;
const CONNECTION_MANAGER_ONLY = new Set([0x4e, 0x54, 0x5b]);
/**
 * Unconnected Send and Multiple Service Packet wrappers unwrapped inside one another, at most (UCS → MSP → UCS →
 * service is three). A deeper one is not walked, so it is malformed: the gateway refuses what it did not read.
 */
const MAX_NESTING = 3;
/** Services and classes the dissector unwraps: a response sets the service's top bit. */
const RESPONSE_BIT = 0x80;
const SERVICE_RESET = 0x05;
const SERVICE_START = 0x06;
const SERVICE_STOP = 0x07;
const SERVICE_MULTIPLE_SERVICE_PACKET = 0x0a;
const SERVICE_UNCONNECTED_SEND = 0x52;
const CLASS_CONNECTION_MANAGER = 0x06;
/** Path segment: ANSI extended symbolic (a tag name). */
const SEGMENT_ANSI_SYMBOLIC = 0x91;
/** Logical segment, special type: the electronic key (key format 4, 8 bytes of key: vendor … minor revision). */
const SEGMENT_ELECTRONIC_KEY = 0x34;
const KEY_FORMAT_4 = 4;
const KEY_SEGMENT_LENGTH = 10;

/** Kinds of malformed CIP message (the `kind` of a Message's anomaly). */
export const CIP_ANOMALIES = [
  'response_header_truncated',
  'request_path_overrun',
  'embedded_request_overrun',
  /** A path segment Weir cannot read (unknown type, reserved format) or one that overruns the path. */
  'request_path_unreadable',
  /** A Multiple Service Packet whose count or offsets overrun it, or whose services are out of order or overlap. */
  'service_packet_invalid',
  /** Wrappers nested deeper than the dissector unwraps. */
  'embedded_too_deep',
] as const;
export type CipAnomaly = (typeof CIP_ANOMALIES)[number];

const malformed: Malformed<CipAnomaly> = markMalformed;

const CLASS_NAMES: Record<number, string> = {
  0x01: 'identity',
  0x02: 'message_router',
  0x04: 'assembly',
  0x06: 'connection_manager',
  0x37: 'file',
  0x48: 'qos',
  0x64: 'program',
  0x66: 'pccc',
  0x6b: 'symbol',
  0x6c: 'template',
  0xf4: 'port',
  0xf5: 'tcpip',
  0xf6: 'ethernet_link',
};

interface Path {
  cls: number;
  inst: number;
  attr: number;
  tag: string;
  /** Why the path cannot be read to its end ('' when it can): what follows would be addressed unread. */
  bad: string;
}

/** The request path, segment by segment; a segment Weir cannot size or name ends the walk with `bad` set. */
function parsePath(b: Uint8Array, p: number, end: number): Path {
  const r: Path = { cls: -1, inst: -1, attr: -1, tag: '', bad: '' };
  while (p < end) {
    const s = b[p]!;
    const type = s & 0xfc;
    let len: number;
    if (s === SEGMENT_ANSI_SYMBOLIC) {
      // ANSI extended symbolic segment (a tag name)
      const n = b[p + 1] ?? 0;
      len = 2 + n + (n & 1);
      if (p + len > end) break;
      r.tag = r.tag ? `${r.tag}.${ascii(b, p + 2, n)}` : ascii(b, p + 2, n);
    } else if (type === 0x20 || type === 0x24 || type === 0x30 || type === 0x2c || type === 0x28) {
      const fmt = s & 3;
      if (fmt === 3) {
        r.bad = `reserved logical format in segment 0x${s.toString(16)}`;
        return r;
      }
      len = fmt === 0 ? 2 : fmt === 1 ? 4 : 6;
      if (p + len > end) break;
      const v = fmt === 0 ? b[p + 1]! : fmt === 1 ? u16le(b, p + 2) : u32le(b, p + 2);
      if (type === 0x20) r.cls = v;
      else if (type === 0x24 || type === 0x2c) r.inst = v;
      else if (type === 0x30) r.attr = v;
    } else if (s === SEGMENT_ELECTRONIC_KEY && b[p + 1] === KEY_FORMAT_4) {
      // The device checks the key and refuses a mismatch; the path goes on after it.
      len = KEY_SEGMENT_LENGTH;
      if (p + len > end) break;
    } else if ((s & 0xe0) === 0x00) {
      // Port segment: [extended link address size], [16-bit port when the port id is 15], link address, pad.
      const ext = (s & 0x10) !== 0;
      const wide = (s & 0x0f) === 0x0f ? 2 : 0;
      const link = ext ? (b[p + 1] ?? 0) : 1;
      const body = 1 + (ext ? 1 : 0) + wide + link;
      len = body + (body & 1);
      if (p + len > end) break;
    } else {
      r.bad = `path segment 0x${s.toString(16)} Weir cannot read`;
      return r;
    }
    p += len;
  }
  if (p < end) r.bad = `path segment 0x${b[p]!.toString(16)} overruns the path`;
  return r;
}

/** Address space names of class (and attribute) paths, kept: polling repeats a few, and each was built anew. */
const CLASS_SPACES = new Map<number, string>();

function classSpace(cls: number, attr: number): string {
  const text = (): string => `class_0x${cls.toString(16)}${attr >= 0 ? `/attr_${attr}` : ''}`;
  if (cls >= 4096 || attr >= 4095) return text();
  const key = cls * 4096 + attr + 1;
  let s = CLASS_SPACES.get(key);
  if (s === undefined) {
    if (CLASS_SPACES.size >= 4096) CLASS_SPACES.clear();
    CLASS_SPACES.set(key, (s = text()));
  }
  return s;
}

/**
 * One CIP message (request or response) into `out`; Unconnected Send and Multiple Service Packet requests are
 * unwrapped into their embedded services as further messages, as tshark shows them.
 */
export function dissectCip(
  b: Uint8Array,
  p: number,
  end: number,
  ctx: PduContext,
  out: Message[],
  depth = 0,
): void {
  if (end - p < 2) return;
  const m = newMessage(ctx, 'cip');
  out.push(m);
  const sc = b[p]!;
  const response = (sc & RESPONSE_BIT) !== 0;
  m.func = response ? sc ^ RESPONSE_BIT : sc;
  m.funcName = CIP_SERVICES[m.func] ?? `SERVICE_0x${m.func.toString(16)}`;
  m.role = response ? 'response' : 'request';
  if (response) {
    if (end - p < 4) {
      m.fields = { cip_service: m.funcName };
      malformed(m, 'response_header_truncated', 'CIP response header truncated');
      return;
    }
    const status = b[p + 2]!;
    // One literal (a later property would grow a separate store); a Forward_Open reply adds its own.
    const fields: Record<string, string | number | boolean> = {
      cip_service: m.funcName,
      cip_status: status,
    };
    m.fields = fields;
    if (status !== 0) m.exception = status;
    const data = p + 4 + b[p + 3]! * 2;
    if (m.func === SERVICE_MULTIPLE_SERVICE_PACKET && status === 0 && depth < MAX_NESTING)
      multiple(m, b, data, end, ctx, out, depth);
    else if (
      status === 0 &&
      (m.func === SERVICE_FORWARD_OPEN || m.func === SERVICE_LARGE_FORWARD_OPEN)
    )
      forwardOpenReply(fields, b, data, end);
    return;
  }
  const words = b[p + 1]!;
  const pathEnd = p + 2 + words * 2;
  if (pathEnd > end) {
    m.fields = { cip_service: m.funcName };
    malformed(m, 'request_path_overrun', 'CIP request path overruns the message');
    return;
  }
  const path = parsePath(b, p + 2, pathEnd);
  if (CONNECTION_MANAGER_ONLY.has(m.func) && path.cls !== CLASS_CONNECTION_MANAGER) {
    m.func |= OTHER_OBJECT;
    m.funcName = CIP_SERVICES[m.func] ?? `SERVICE_0x${sc.toString(16)}`;
  }
  let fields: Record<string, string | number | boolean>;
  if (path.cls >= 0 && path.inst >= 0 && path.attr < 0 && !path.tag)
    // The common request (a service on a class instance), in one literal.
    fields = {
      cip_service: m.funcName,
      class_id: path.cls,
      class_name: CLASS_NAMES[path.cls] ?? `0x${path.cls.toString(16)}`,
      instance_id: path.inst,
    };
  else {
    fields = { cip_service: m.funcName };
    if (path.cls >= 0) {
      fields.class_id = path.cls;
      fields.class_name = CLASS_NAMES[path.cls] ?? `0x${path.cls.toString(16)}`;
    }
    if (path.inst >= 0) fields.instance_id = path.inst;
    if (path.attr >= 0) fields.attribute_id = path.attr;
    if (path.tag) fields.tag = path.tag;
  }
  m.fields = fields;
  m.write = WRITES.has(m.func);
  if (path.tag) m.targets = [{ space: `tag:${path.tag}`, start: 0, count: 1 }];
  else if (path.cls >= 0)
    m.targets = [
      { space: classSpace(path.cls, path.attr), start: Math.max(0, path.inst), count: 1 },
    ];
  if (
    (m.func === SERVICE_FORWARD_OPEN || m.func === SERVICE_LARGE_FORWARD_OPEN) &&
    path.cls === CLASS_CONNECTION_MANAGER
  )
    forwardOpenRequest(fields, b, pathEnd, end, m.func === SERVICE_LARGE_FORWARD_OPEN);
  // A path read only in part addresses an object Weir cannot name: nothing about the request can be judged.
  if (path.bad) {
    malformed(m, 'request_path_unreadable', `CIP request path: ${path.bad}`);
    return;
  }
  const send = m.func === SERVICE_UNCONNECTED_SEND && path.cls === CLASS_CONNECTION_MANAGER;
  if (!send && m.func !== SERVICE_MULTIPLE_SERVICE_PACKET) return;
  if (depth >= MAX_NESTING) {
    malformed(m, 'embedded_too_deep', `${m.funcName} nested more than ${MAX_NESTING} deep`);
    return;
  }
  if (!send) {
    multiple(m, b, pathEnd, end, ctx, out, depth);
    return;
  }
  // Unconnected Send data: priority/tick, timeout ticks, embedded message size, the message, then the route.
  const size = pathEnd + 4 <= end ? u16le(b, pathEnd + 2) : -1;
  const inner = pathEnd + 4;
  if (size >= 0 && inner + size <= end) dissectCip(b, inner, inner + size, ctx, out, depth + 1);
  else malformed(m, 'embedded_request_overrun', 'embedded request overruns Unconnected Send');
}

/**
 * Multiple Service Packet body: count, offsets from the start of the body, then the services. A device runs each
 * service at its own offset, so every one must be walked: the offsets must rise strictly, start after the offset
 * table and end inside the body, each service at least a service code and path size long. Otherwise a service
 * could hide in bytes read as another's data (or be read twice), and the packet is malformed. Walking is linear
 * in the bytes: no byte starts two services.
 */
function multiple(
  m: Message,
  b: Uint8Array,
  d: number,
  end: number,
  ctx: PduContext,
  out: Message[],
  depth: number,
): void {
  if (d + 2 > end) {
    malformed(m, 'service_packet_invalid', 'Multiple Service Packet without a service count');
    return;
  }
  const n = u16le(b, d);
  const table = d + 2 + 2 * n;
  if (table > end) {
    malformed(m, 'service_packet_invalid', `${n} service offsets overrun the packet`);
    return;
  }
  let last = table;
  for (let i = 0; i < n; i++) {
    const start = d + u16le(b, d + 2 + 2 * i);
    const stop = i + 1 < n ? d + u16le(b, d + 4 + 2 * i) : end;
    if (start < last || stop > end || stop - start < 2) {
      malformed(
        m,
        'service_packet_invalid',
        `service ${i + 1} of ${n} at offset ${start - d} is out of order, overlaps or overruns the packet`,
      );
      return;
    }
    last = stop;
  }
  for (let i = 0; i < n; i++) {
    const start = d + u16le(b, d + 2 + 2 * i);
    const stop = i + 1 < n ? d + u16le(b, d + 4 + 2 * i) : end;
    dissectCip(b, start, stop, ctx, out, depth + 1);
  }
}

/** Reset, Start and Stop change whether the device runs. */
const OPERATIONS = {
  [SERVICE_RESET]: { kind: 'device_restart', what: 'reset the device' },
  [SERVICE_START]: { kind: 'cpu_start', what: 'sent a CIP Start' },
  [SERVICE_STOP]: { kind: 'cpu_stop', what: 'sent a CIP Stop' },
} as const;

function requestedMode(m: Message): RequestedMode | null {
  return m.func === SERVICE_STOP ? 'STOP' : m.func === SERVICE_START ? 'RUN' : null;
}

/** CIP rides in EtherNet/IP (SendRRData/SendUnitData items): the EtherNet/IP dissector reads it. */
export const cipProtocol: ProtocolDescriptor<CipAnomaly> = {
  name: 'cip',
  title: 'CIP',
  industrial: true,
  carrier: 'enip',
  serverPort: { transport: 'tcp', port: 44818 },
  ports: { tcp: [], udp: [] },
  etherTypes: [],
  functions: CIP_SERVICES,
  category: enipCategory,
  operations: OPERATIONS,
  requestedMode,
  anomalies: CIP_ANOMALIES,
};
