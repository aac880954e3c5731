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
  0x4f: 'READ_MODIFY_WRITE_TAG',
  0x52: 'UNCONNECTED_SEND',
  0x53: 'WRITE_TAG_FRAGMENTED',
  0x54: 'FORWARD_OPEN',
  0x55: 'GET_INSTANCE_ATTRIBUTE_LIST',
  0x5b: 'LARGE_FORWARD_OPEN',
};
const WRITES = new Set([
  0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0d, 0x10, 0x15, 0x19, 0x1a, 0x1b, 0x4d, 0x4f, 0x53,
]);
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

/** Kinds of malformed CIP message (the `kind` of a Message's anomaly). */
export const CIP_ANOMALIES = [
  'response_header_truncated',
  'request_path_overrun',
  'embedded_request_overrun',
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
}

function parsePath(b: Uint8Array, p: number, end: number): Path {
  const r: Path = { cls: -1, inst: -1, attr: -1, tag: '' };
  while (p < end) {
    const s = b[p]!;
    const type = s & 0xfc;
    if (s === SEGMENT_ANSI_SYMBOLIC) {
      // ANSI extended symbolic segment (a tag name)
      const n = b[p + 1] ?? 0;
      r.tag = r.tag ? `${r.tag}.${ascii(b, p + 2, n)}` : ascii(b, p + 2, n);
      p += 2 + n + (n & 1);
      continue;
    }
    if (type === 0x20 || type === 0x24 || type === 0x30 || type === 0x2c || type === 0x28) {
      const fmt = s & 3;
      let v: number, len: number;
      if (fmt === 0) {
        v = b[p + 1] ?? 0;
        len = 2;
      } else if (fmt === 1) {
        v = p + 4 <= end ? u16le(b, p + 2) : 0;
        len = 4;
      } else {
        v = p + 6 <= end ? u32le(b, p + 2) : 0;
        len = 6;
      }
      if (type === 0x20) r.cls = v;
      else if (type === 0x24 || type === 0x2c) r.inst = v;
      else if (type === 0x30) r.attr = v;
      p += len;
      continue;
    }
    if ((s & 0xe0) === 0x00) {
      // port segment: port, link address (extended forms are rare on plant networks)
      const ext = (s & 0x10) !== 0;
      p += ext ? 2 + (b[p + 1] ?? 0) + ((b[p + 1] ?? 0) & 1) : 2;
      continue;
    }
    break;
  }
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
    if (m.func === SERVICE_MULTIPLE_SERVICE_PACKET && status === 0 && depth < 2)
      multiple(b, data, end, ctx, out, depth);
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
  if (depth >= 2) return;
  if (
    m.func === SERVICE_UNCONNECTED_SEND &&
    path.cls === CLASS_CONNECTION_MANAGER &&
    pathEnd + 4 <= end
  ) {
    const size = u16le(b, pathEnd + 2);
    const inner = pathEnd + 4;
    if (inner + size <= end) dissectCip(b, inner, inner + size, ctx, out, depth + 1);
    else malformed(m, 'embedded_request_overrun', 'embedded request overruns Unconnected Send');
  } else if (m.func === SERVICE_MULTIPLE_SERVICE_PACKET) {
    multiple(b, pathEnd, end, ctx, out, depth);
  }
}

/** Multiple Service Packet body: count, offsets from the start of the body, then the services. */
function multiple(
  b: Uint8Array,
  d: number,
  end: number,
  ctx: PduContext,
  out: Message[],
  depth: number,
): void {
  if (d + 2 > end) return;
  const n = u16le(b, d);
  if (d + 2 + 2 * n > end) return;
  for (let i = 0; i < n && i < 200; i++) {
    const start = d + u16le(b, d + 2 + 2 * i);
    const stop = i + 1 < n ? d + u16le(b, d + 4 + 2 * i) : end;
    if (start < d + 2 + 2 * n || stop > end || stop <= start) continue;
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
