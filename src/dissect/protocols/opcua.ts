import type { ProtocolDescriptor, StreamDissector } from '../protocol.js';
import {
  newMessage,
  markMalformed,
  type Malformed,
  type Message,
  type PduContext,
} from '../message.js';
import { u32le } from '../bytes.js';
import { FragmentJoiner } from '../fragments.js';
import { UaReader } from './opcua-binary.js';
import { OPCUA_SERVICES, opcuaCategory } from './opcua-services.js';
import { serviceBody, setService } from './opcua-body.js';
import { OPCUA_ANOMALIES, type OpcuaAnomaly } from './opcua-anomalies.js';

export { OPCUA_ANOMALIES, type OpcuaAnomaly };

/**
 * OPC UA Binary over TCP (opc.tcp, OPC UA Part 6 §6.7 and §7.1). Every message starts with a 3-byte type, a chunk
 * type (F final, C intermediate, A abort) and its size. HEL/ACK/ERR/RHE set up the connection; OPN opens a secure
 * channel under an asymmetric security header naming its policy; MSG carries services and CLO closes the channel,
 * both under a symmetric header. A service body starts with the NodeId of its binary encoding: that id is the
 * message's function code, as tshark's `opcua.servicenodeid.numeric`.
 *
 * Under a policy other than None the body may be signed only (readable) or signed and encrypted. The OPN body is
 * always encrypted then, so the mode is never read from it: a body is taken as readable only when it starts with a
 * known service encoding id (a 1 in 10^8 chance for random bytes); otherwise it is counted as encrypted and never
 * parsed. Services larger than one chunk are joined per request id and dissected at their final chunk.
 */

/** Message types, as the 24-bit big-endian value of their three ASCII letters. */
const HEL = 0x48454c,
  ACK = 0x41434b,
  ERR = 0x455252,
  RHE = 0x524845,
  OPN = 0x4f504e,
  MSG = 0x4d5347,
  CLO = 0x434c4f;
const TYPE_NAMES: Record<number, string> = {
  [HEL]: 'HEL',
  [ACK]: 'ACK',
  [ERR]: 'ERR',
  [RHE]: 'RHE',
  [OPN]: 'OPN',
  [MSG]: 'MSG',
  [CLO]: 'CLO',
};
const CHUNK_FINAL = 0x46,
  CHUNK_INTERMEDIATE = 0x43,
  CHUNK_ABORT = 0x41;
/** Header, secure channel id, token id, sequence number and request id of a symmetric (MSG/CLO) chunk. */
const SYMMETRIC_HEADER = 24;
/** The smallest receive buffer Part 6 allows is 8192; chunks above 16 MiB are not OPC UA. */
const MAX_CHUNK = 1 << 24;
/**
 * Bytes of a chunked service kept for dissection: its function, header and first targets and values are at the
 * start, so a 10 MB history read costs 64 KiB per service being joined, and the rest is only counted.
 */
const MAX_JOINED = 1 << 16;
/** Services being joined at once in one direction (chunks of several requests may interleave). */
const MAX_JOINING = 8;
const POLICY_NONE = 'http://opcfoundation.org/UA/SecurityPolicy#None';

const malformed: Malformed<OpcuaAnomaly> = markMalformed;

/** A service being joined from its chunks. */
interface Joining {
  joiner: FragmentJoiner;
  func: number;
  chunks: number;
  /** Bytes beyond MAX_JOINED were left out. */
  clipped: boolean;
}

/**
 * Per-direction state: the security policy this side declared in its last OPN (null before one is seen: a capture
 * that starts mid-channel), and the services being joined, by request id.
 */
export interface OpcuaState {
  policy?: string | null;
  joining?: Map<number, Joining> | null;
}

function typeAt(b: Uint8Array, off: number): number {
  return (b[off]! << 16) | (b[off + 1]! << 8) | b[off + 2]!;
}

function pduLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 3) return 0;
  if (TYPE_NAMES[typeAt(b, off)] === undefined) return -1;
  if (avail < 4) return 0;
  const c = b[off + 3]!;
  if (c !== CHUNK_FINAL && c !== CHUNK_INTERMEDIATE && c !== CHUNK_ABORT) return -1;
  if (avail < 8) return 0;
  const size = u32le(b, off + 4);
  return size < 8 || size > MAX_CHUNK ? -1 : size;
}

/** The next plausible message header after bytes that were not one. */
function resync(b: Uint8Array, off: number, end: number): number {
  for (let p = off; p + 8 <= end; p++) if (pduLength(b, p, 8) > 0) return p;
  return -1;
}

/**
 * Length of a symmetric signature under a policy: HMAC-SHA1 for the SHA-1 policies, HMAC-SHA256 otherwise. Unknown
 * (a capture that starts mid-channel) counts as none: readable traffic is mostly None, and a signed service of one
 * chunk reads the same either way.
 */
function signatureLength(policy: string | null): number {
  if (policy === null || policy === POLICY_NONE) return 0;
  return policy !== null && /#(Basic128Rsa15|Basic256)$/.test(policy) ? 20 : 32;
}

/** 'Basic256Sha256' from its URI. */
function policyName(uri: string): string {
  const i = uri.lastIndexOf('#');
  return i < 0 ? uri : uri.slice(i + 1);
}

/** The service encoding id a readable body starts with (a numeric NodeId in namespace 0), or -1. */
function leadingTypeId(b: Uint8Array, p: number, end: number): number {
  if (p + 3 <= end && b[p] === 0x01 && b[p + 1] === 0) return b[p + 2]! | (b[p + 3]! << 8);
  if (p + 7 <= end && b[p] === 0x02 && b[p + 1] === 0 && b[p + 2] === 0) return u32le(b, p + 3);
  if (p + 2 <= end && b[p] === 0x00) return b[p + 1]!;
  return -1;
}

function message(
  ctx: PduContext,
  toServer: boolean,
  type: number,
  out: Message[],
): Message & { fields: Record<string, string | number | boolean> } {
  const m = newMessage(ctx, 'opcua');
  m.role = toServer ? 'request' : 'response';
  m.funcName = TYPE_NAMES[type]!;
  const fields: Record<string, string | number | boolean> = { msg_type: m.funcName };
  m.fields = fields;
  out.push(m);
  return m as Message & { fields: typeof fields };
}

function dissect(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  state?: OpcuaState,
): void {
  if (len < 8) return;
  const type = typeAt(b, off);
  const chunk = b[off + 3]!;
  const end = off + len;
  const st: OpcuaState = state ?? {};
  if (type === MSG || type === CLO) {
    symmetric(b, off, end, ctx, toServer, out, st, type, chunk);
    return;
  }
  const m = message(ctx, toServer, type, out);
  if (type !== OPN && chunk !== CHUNK_FINAL)
    malformed(m, 'chunk_type_invalid', `${m.funcName} in a '${String.fromCharCode(chunk)}' chunk`);
  const r = new UaReader(b, off + 8, end);
  const f = m.fields;
  switch (type) {
    case HEL:
      f.protocol_version = r.u32();
      f.receive_buffer_size = r.u32();
      f.send_buffer_size = r.u32();
      f.max_message_size = r.u32();
      f.max_chunk_count = r.u32();
      f.endpoint_url = r.string();
      break;
    case ACK:
      f.protocol_version = r.u32();
      f.receive_buffer_size = r.u32();
      f.send_buffer_size = r.u32();
      f.max_message_size = r.u32();
      f.max_chunk_count = r.u32();
      break;
    case ERR:
      m.exception = r.u32();
      f.reason = r.string();
      break;
    case RHE:
      f.server_uri = r.string();
      f.endpoint_url = r.string();
      break;
    case OPN: {
      f.secure_channel_id = r.u32();
      const policy = r.string();
      r.skipBytes(); // sender certificate
      r.skipBytes(); // receiver certificate thumbprint
      if (r.overrun) break;
      st.policy = policy;
      f.security_policy = policyName(policy);
      f.security_policy_uri = policy;
      if (policy !== POLICY_NONE) {
        // The sequence header and body are encrypted with the receiver's public key.
        f.encrypted = true;
        return;
      }
      f.security = 'None';
      m.txId = (r.skip(4), r.u32());
      if (r.overrun) break;
      serviceBody(m, b, r.p, end, toServer);
      return;
    }
  }
  if (r.overrun) malformed(m, 'header_truncated', `${m.funcName} shorter than its fields`);
}

/** A MSG or CLO chunk: join it with its request's other chunks, dissect the service when whole. */
function symmetric(
  b: Uint8Array,
  off: number,
  end: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  st: OpcuaState,
  type: number,
  chunk: number,
): void {
  if (end - off < SYMMETRIC_HEADER) {
    const m = message(ctx, toServer, type, out);
    malformed(m, 'header_truncated', `${m.funcName} chunk of ${end - off} bytes`);
    return;
  }
  const channel = u32le(b, off + 8);
  const requestId = u32le(b, off + 20);
  const policy = st.policy ?? null;
  const sig = signatureLength(policy);
  const body = off + SYMMETRIC_HEADER;
  const bodyEnd = Math.max(body, end - sig);
  const joining = st.joining?.get(requestId);
  if (joining !== undefined) {
    // A later chunk of a readable service (an encrypted chunk matches a request id by chance 1 in 2^32).
    if (chunk === CHUNK_ABORT) {
      st.joining!.delete(requestId);
      abort(b, body, bodyEnd, ctx, toServer, out, type, channel, requestId, policy);
      return;
    }
    const j = joining.joiner;
    // Past MAX_JOINED bytes the rest is only counted: targets and values come from the start of a service.
    if (!joining.clipped && j.size + (bodyEnd - body) <= MAX_JOINED) j.add(b, body, bodyEnd - body);
    else joining.clipped = true;
    joining.chunks++;
    if (chunk === CHUNK_INTERMEDIATE) return;
    st.joining!.delete(requestId);
    const whole = j.take();
    const m = message(ctx, toServer, type, out);
    m.txId = requestId;
    m.fields.secure_channel_id = channel;
    security(m, policy, false);
    m.fields.chunks = joining.chunks;
    if (joining.clipped) m.fields.clipped = true;
    serviceBody(m, whole, 0, whole.length, toServer, joining.clipped);
    return;
  }
  const typeId = leadingTypeId(b, body, bodyEnd);
  const readable = policy === POLICY_NONE || (typeId >= 0 && OPCUA_SERVICES[typeId] !== undefined);
  if (chunk === CHUNK_ABORT) {
    abort(b, body, bodyEnd, ctx, toServer, out, type, channel, requestId, policy);
    return;
  }
  if (!readable) {
    // Encrypted: the sequence header and body are unreadable, so each final chunk counts one service.
    if (chunk !== CHUNK_FINAL) return;
    const m = message(ctx, toServer, type, out);
    m.fields.secure_channel_id = channel;
    m.fields.encrypted = true;
    security(m, policy, true);
    return;
  }
  if (chunk === CHUNK_INTERMEDIATE) {
    const map = (st.joining ??= new Map());
    if (map.size >= MAX_JOINING) {
      // A peer that opens chunked services and never finishes them: drop the oldest and say so.
      const [oldId, old] = map.entries().next().value as [number, Joining];
      map.delete(oldId);
      const m = message(ctx, toServer, type, out);
      setService(m, old.func);
      m.txId = oldId;
      m.fields.secure_channel_id = channel;
      malformed(
        m,
        'chunk_abandoned',
        `chunked service ${oldId} abandoned after ${old.chunks} chunks: ${MAX_JOINING} services joined at once`,
      );
    }
    const j = new FragmentJoiner(MAX_JOINED, Number.MAX_SAFE_INTEGER);
    const clipped = bodyEnd - body > MAX_JOINED;
    if (!clipped) j.add(b, body, bodyEnd - body);
    map.set(requestId, { joiner: j, func: typeId, chunks: 1, clipped });
    return;
  }
  const m = message(ctx, toServer, type, out);
  m.txId = requestId;
  m.fields.secure_channel_id = channel;
  security(m, policy, false);
  serviceBody(m, b, body, bodyEnd, toServer);
}

/** The security of a MSG/CLO under the direction's policy: None, Sign (readable) or SignAndEncrypt. */
function security(m: Message, policy: string | null, encrypted: boolean): void {
  if (policy === null) return;
  m.fields!.security = policy === POLICY_NONE ? 'None' : encrypted ? 'SignAndEncrypt' : 'Sign';
}

/** An abort chunk: the sender gives up a chunked service, with an error code and a reason. */
function abort(
  b: Uint8Array,
  body: number,
  end: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  type: number,
  channel: number,
  requestId: number,
  policy: string | null,
): void {
  const m = message(ctx, toServer, type, out);
  m.funcName = 'ABORT';
  m.fields.secure_channel_id = channel;
  if (policy !== null && policy !== POLICY_NONE && !(end - body >= 8 && b[body + 3]! >= 0x80)) {
    m.fields.encrypted = true;
    security(m, policy, true);
    return;
  }
  m.txId = requestId;
  const r = new UaReader(b, body, end);
  m.exception = r.u32();
  m.fields.reason = r.string();
  if (r.overrun) malformed(m, 'body_truncated', 'abort chunk shorter than its error and reason');
}

export const opcuaTcp: StreamDissector<OpcuaState> = {
  protocol: 'opcua',
  newState: () => ({ policy: null, joining: null }),
  pduLength,
  dissect,
  resync,
  partial(b, off, len) {
    return len >= 4 && typeAt(b, off) === MSG && b[off + 3] === CHUNK_INTERMEDIATE;
  },
};

/** Services that change the server's address space: configuration work, as an engineering tool does it. */
const OPERATIONS = {
  488: { kind: 'config_change', what: 'added nodes to the address space' },
  494: { kind: 'config_change', what: 'added references to the address space' },
  500: { kind: 'config_change', what: 'deleted nodes from the address space' },
  506: { kind: 'config_change', what: 'deleted references from the address space' },
} as const;

/**
 * A service on a channel under a security policy other than None. The mode (Sign or SignAndEncrypt) is inside the
 * encrypted OPN, so no body there can be trusted: a ciphertext may start with a known service id by chance, or
 * by a client grinding for one. Such services are not judged by function; the policy decides whether they pass.
 */
function opcuaOpaque(m: Message): boolean {
  const f = m.fields;
  if (f === null) return false;
  // The OPN that opens such a channel names its policy in clear: refusing there spares the client a dead channel.
  if (f.msg_type === 'OPN') return f.encrypted === true;
  if (f.msg_type !== 'MSG') return false;
  return f.encrypted === true || (f.security !== undefined && f.security !== 'None');
}

export const opcuaProtocol: ProtocolDescriptor<OpcuaAnomaly> = {
  name: 'opcua',
  title: 'OPC UA',
  industrial: true,
  serverPort: { transport: 'tcp', port: 4840 },
  ports: { tcp: [4840], udp: [] },
  etherTypes: [],
  functions: OPCUA_SERVICES,
  category: opcuaCategory,
  operations: OPERATIONS,
  // Chunked services are held by the gateway until their final chunk and judged whole.
  opaque: opcuaOpaque,
  anomalies: OPCUA_ANOMALIES,
  stream: opcuaTcp,
};
