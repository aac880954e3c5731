import { serverSessionIdentity } from './s7comm-plus-identity.js';
import type { ProtocolDescriptor, RequestedMode, StreamDissector } from '../protocol.js';
import {
  unwalked,
  newMessage,
  type IdentityFacts,
  type Message,
  type PduContext,
  type Target,
  markMalformed,
  type Malformed,
} from '../message.js';
import { ascii, u16be, u24be } from '../bytes.js';
import { COTP_CR, COTP_DT, parseCotp, tpktLength } from './tpkt-cotp.js';
import { isRdp } from '../foreign.js';
import { FragmentJoiner } from '../fragments.js';
import {
  AREAS,
  ELEMENT_BYTES,
  JOB_FUNCTIONS,
  ROSCTR,
  USERDATA_GROUPS,
  USERDATA_SUBFUNCTIONS,
} from './s7comm-names.js';
import { cotpLinkControl, s7Category } from './s7comm-categories.js';
import { isSessionSpdu, mmsUnit } from './mms.js';

const WRITE_FUNCTIONS = new Set([0x05, 0x1a, 0x1b, 0x1c, 0x28, 0x29]);

/**
 * Bounds of one COTP TSDU being joined: classic S7 negotiates PDUs of at most 960 bytes and S7comm-plus a
 * few KiB; beyond these it is no job any PLC would take. The fragment bound covers empty DT TPDUs.
 */
const MAX_TSDU = 1 << 16;
const MAX_TSDU_FRAGMENTS = 1024;

/** First byte of COTP user data: the protocol id of classic S7comm and of S7comm-plus. */
const S7_PROTOCOL_ID = 0x32;
const S7PLUS_PROTOCOL_ID = 0x72;
/** PDU types (ROSCTR): a job from the client, its acknowledgement (with data) and userdata. */
const ROSCTR_JOB = 1;
const ROSCTR_ACK = 2;
const ROSCTR_ACK_DATA = 3;
const ROSCTR_USERDATA = 7;
/** Job functions that stop the CPU and run a PI service (P_PROGRAM starts it). */
const FUNC_PI_SERVICE = 0x28;
const FUNC_PLC_STOP = 0x29;

/** Kinds of malformed S7comm PDU (the `kind` of a Message's anomaly). */
export const S7COMM_ANOMALIES = [
  'header_truncated',
  'lengths_exceed_pdu',
  'no_parameters',
  'userdata_truncated',
  'tsdu_abandoned',
  'tsdu_too_large',
] as const;
export type S7commAnomaly = (typeof S7COMM_ANOMALIES)[number];
/** Kinds of malformed S7comm-plus PDU; a COTP unit given up is reported as the protocol its first byte names. */
export const S7COMM_PLUS_ANOMALIES = [
  'header_truncated',
  'tsdu_abandoned',
  'tsdu_too_large',
] as const;
export type S7commPlusAnomaly = (typeof S7COMM_PLUS_ANOMALIES)[number];

const malformed: Malformed<S7commAnomaly> = markMalformed;

/** Per-direction state: the COTP TSDU being joined from DT fragments, made on first use. */
export interface S7StreamState {
  tsdu: FragmentJoiner | null;
}

/** S7comm (0x32) and S7comm-plus (0x72) over COTP over TPKT, TCP port 102; ISO session units go to MMS. */
export const s7comm: StreamDissector<S7StreamState> = {
  protocol: 's7comm',
  newState: () => ({ tsdu: null }),
  linkControl: cotpLinkControl,
  pduLength: tpktLength,
  dissect(b, off, len, ctx, toServer, out, state) {
    const cotp = parseCotp(b, off, len);
    if (cotp === null) return;
    // RDP opens with the same TPKT/COTP connection request as S7: its cookie or negotiation request tells.
    if (cotp.pduType === COTP_CR && isRdp(b, off, off + len)) {
      const m = newMessage(ctx, 's7comm');
      m.role = toServer ? 'request' : 'response';
      m.anomaly = { kind: 'foreign_protocol', detail: 'payload is rdp, not s7comm' };
      m.fields = { foreign_protocol: 'rdp' };
      out.push(m);
      return;
    }
    const p = cotp.dataOffset,
      n = cotp.dataLength;
    if (state === undefined) {
      if (cotp.pduType === COTP_DT) pdu(b, p, n, ctx, toServer, out, 1);
      return;
    }
    const tsdu = (state.tsdu ??= new FragmentJoiner(MAX_TSDU, MAX_TSDU_FRAGMENTS));
    if (cotp.pduType !== COTP_DT) {
      // A new connection, a disconnect or an error between fragments ends the unit unfinished.
      if (tsdu.joining)
        unitAnomaly(
          tsdu.byteAt(0),
          ctx,
          toServer,
          out,
          'tsdu_abandoned',
          `COTP TSDU abandoned after ${tsdu.count} DT fragments (TPDU 0x${cotp.pduType.toString(16)})`,
        );
      tsdu.reset();
      return;
    }
    if (tsdu.skipping) {
      if (cotp.eot) tsdu.reset();
      return;
    }
    if (cotp.eot && !tsdu.joining) {
      pdu(b, p, n, ctx, toServer, out, 1);
      return;
    }
    // Segmented TSDU (ISO 8073 DT without EOT): join it and dissect it whole at its last fragment, like tshark.
    const first = tsdu.joining ? tsdu.byteAt(0) : n > 0 ? b[p]! : -1;
    if (!tsdu.add(b, p, n)) {
      unitAnomaly(
        first,
        ctx,
        toServer,
        out,
        'tsdu_too_large',
        `COTP TSDU exceeds ${MAX_TSDU} bytes or ${MAX_TSDU_FRAGMENTS} DT fragments`,
      );
      if (cotp.eot) tsdu.reset();
      return;
    }
    if (!cotp.eot) return;
    const fragments = tsdu.count,
      whole = tsdu.take();
    pdu(whole, 0, whole.length, ctx, toServer, out, fragments);
  },
  partial(b, off, len) {
    const cotp = parseCotp(b, off, len);
    return cotp !== null && cotp.pduType === COTP_DT && !cotp.eot;
  },
};

/** One whole S7 or S7comm-plus PDU (COTP user data); `fragments` is how many DT TPDUs carried it. */
function pdu(
  b: Uint8Array,
  p: number,
  n: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  fragments: number,
): void {
  if (n < 1) return;
  const before = out.length;
  if (b[p] === S7_PROTOCOL_ID) s7(b, p, n, ctx, toServer, out);
  else if (b[p] === S7PLUS_PROTOCOL_ID) s7plus(b, p, n, ctx, toServer, out);
  // Not S7: an ISO session SPDU is the OSI stack of IEC 61850 MMS, which shares ISO-on-TCP.
  else if (isSessionSpdu(b[p]!)) mmsUnit(b, p, n, ctx, toServer, out);
  if (fragments > 1 && out.length > before) {
    const m = out[out.length - 1]!;
    (m.fields ??= {}).cotp_fragments = fragments;
  }
}

/** A TSDU given up before it was whole: reported once, as the protocol its first byte names. */
function unitAnomaly(
  first: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  kind: 'tsdu_abandoned' | 'tsdu_too_large',
  why: string,
): void {
  const m = newMessage(
    ctx,
    first === S7PLUS_PROTOCOL_ID ? 's7comm_plus' : isSessionSpdu(first) ? 'mms' : 's7comm',
  );
  m.role = toServer ? 'request' : 'response';
  m.anomaly = { kind, detail: why };
  out.push(m);
}

function s7(
  b: Uint8Array,
  p: number,
  n: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 's7comm');
  out.push(m);
  if (n < 10) {
    malformed(m, 'header_truncated', 'S7 header truncated');
    return;
  }
  const rosctr = b[p + 1]!;
  m.txId = u16be(b, p + 4);
  const plen = u16be(b, p + 6),
    dlen = u16be(b, p + 8);
  const hlen = rosctr === ROSCTR_ACK || rosctr === ROSCTR_ACK_DATA ? 12 : 10;
  if (n < hlen) {
    malformed(m, 'header_truncated', 'S7 header truncated');
    return;
  }
  const fields: Record<string, string | number | boolean> = {
    rosctr: ROSCTR[rosctr] ?? `ROSCTR_${rosctr}`,
    pdu_reference: m.txId,
  };
  m.fields = fields;
  if (hlen === 12) {
    const ec = b[p + 10]!,
      code = b[p + 11]!;
    if (ec !== 0 || code !== 0) {
      m.exception = (ec << 8) | code;
      fields.error_class = ec;
      fields.error_code = code;
    }
  }
  const par = p + hlen,
    dat = par + plen,
    end = p + n;
  if (dat + dlen > end)
    malformed(m, 'lengths_exceed_pdu', `parameter/data lengths (${plen}+${dlen}) exceed the PDU`);
  m.role =
    rosctr === ROSCTR_JOB
      ? 'request'
      : rosctr === ROSCTR_USERDATA
        ? toServer
          ? 'request'
          : 'response'
        : 'response';
  if (rosctr === ROSCTR_USERDATA) {
    userdata(m, b, par, plen, dat, Math.min(dlen, Math.max(0, end - dat)), end, fields);
    return;
  }
  if (plen < 1 || par >= end) {
    if (rosctr !== ROSCTR_ACK)
      m.anomaly ??= { kind: 'no_parameters', detail: 'S7 PDU without parameters' };
    return;
  }
  const fn = b[par]!;
  m.func = fn;
  m.funcName = JOB_FUNCTIONS[fn] ?? `FUNCTION_0x${fn.toString(16)}`;
  fields.function_code = fn;
  fields.function_name = m.funcName;
  m.write = rosctr === 1 && WRITE_FUNCTIONS.has(fn);
  if ((fn === 0x04 || fn === 0x05) && rosctr === 1 && par + 2 <= end)
    m.targets = items(b, par + 2, b[par + 1]!, Math.min(end, par + plen));
  if (fn === 0x28 && rosctr === 1) {
    // PI service name is the last string in the parameter block (e.g. _INSE, _DELE, P_PROGRAM, _MODU).
    const name = piService(b, par, Math.min(end, par + plen));
    if (name) {
      fields.pi_service = name;
      m.funcName = `PI_SERVICE ${name}`;
    }
  }
  if (fn === 0xf0 && plen >= 8) {
    fields.max_amq_calling = u16be(b, par + 2);
    fields.max_amq_called = u16be(b, par + 4);
    fields.pdu_length = u16be(b, par + 6);
  }
}

function items(b: Uint8Array, q: number, count: number, end: number): Target[] | null {
  const out: Target[] = [];
  let walked = 0;
  for (let i = 0; i < count && q + 2 <= end; i++) {
    const spec = b[q]!,
      ilen = b[q + 1]!;
    if (spec === 0x12 && ilen >= 10 && b[q + 2] === 0x10 && q + 12 <= end) {
      walked++;
      const ts = b[q + 3]!,
        length = u16be(b, q + 4),
        db = u16be(b, q + 6),
        area = b[q + 8]!,
        addr = u24be(b, q + 9);
      const name =
        area === 0x84 || area === 0x85
          ? `${AREAS[area]}${db}`
          : (AREAS[area] ?? `AREA_0x${area.toString(16)}`);
      const bytes = ts === 1 ? 1 : length * (ELEMENT_BYTES[ts] ?? 1);
      out.push({ space: name, start: ts === 1 ? addr >> 3 : addr >> 3, count: Math.max(1, bytes) });
    }
    q += 2 + ilen;
  }
  // An item in another syntax (symbolic, DB-direct, NCK…) or past the end: its address was not read.
  if (walked < count) out.push(unwalked());
  return out.length ? out : null;
}

function piService(b: Uint8Array, par: number, end: number): string {
  // Layout: function, 7 unknown bytes, parameter block length (2), block, string length, service name.
  if (par + 10 > end) return '';
  const blockLen = u16be(b, par + 8);
  const s = par + 10 + blockLen;
  if (s >= end) return '';
  const slen = b[s]!;
  return s + 1 + slen <= end ? ascii(b, s + 1, slen) : '';
}

function userdata(
  m: Message,
  b: Uint8Array,
  par: number,
  plen: number,
  dat: number,
  dlen: number,
  end: number,
  fields: Record<string, string | number | boolean>,
): void {
  if (plen < 8 || par + 8 > end) {
    malformed(m, 'userdata_truncated', 'userdata parameters truncated');
    return;
  }
  const typeGroup = b[par + 5]!;
  const group = typeGroup & 0x0f,
    type = typeGroup >> 4;
  const sub = b[par + 6]!;
  m.func = group;
  m.subfunc = sub;
  m.funcName = USERDATA_GROUPS[group] ?? `GROUP_${group}`;
  const subName = USERDATA_SUBFUNCTIONS[group]?.[sub] ?? `SUBFUNCTION_${sub}`;
  fields.function_code = group;
  fields.function_name = m.funcName;
  fields.subfunction_code = sub;
  fields.subfunction_name = subName;
  m.role = type === 4 ? 'request' : type === 8 ? 'response' : type === 0 ? 'unsolicited' : m.role;
  if (plen >= 12 && par + 12 <= end) {
    const err = u16be(b, par + 10);
    if (err !== 0) {
      m.exception = err;
      fields.error_code = err;
    }
  }
  m.write =
    (group === 7 && (sub === 2 || sub === 4)) ||
    (group === 1 && sub === 0x10) ||
    (group === 5 && sub === 1);
  if (group === 4 && sub === 1 && dlen >= 8 && dat + 8 <= end && b[dat] === 0xff)
    szl(m, b, dat, Math.min(end, dat + dlen), type === 4, fields);
}

/** SZL (system status list) read: the request names id/index; responses carry identity and CPU mode. */
function szl(
  m: Message,
  b: Uint8Array,
  d: number,
  end: number,
  request: boolean,
  fields: Record<string, string | number | boolean>,
): void {
  const id = u16be(b, d + 4),
    index = u16be(b, d + 6);
  fields.szl_id = `0x${id.toString(16).padStart(4, '0')}`;
  fields.szl_index = `0x${index.toString(16).padStart(4, '0')}`;
  m.targets = [{ space: 'SZL', start: id, count: 1 }];
  if (request || d + 12 > end) return;
  const recLen = u16be(b, d + 8),
    count = u16be(b, d + 10);
  let r = d + 12;
  const idf: IdentityFacts = {};
  const key = id & 0x00ff;
  for (let i = 0; i < count && recLen > 0 && r + recLen <= end; i++, r += recLen) {
    if (key === 0x11 && recLen >= 28) {
      const idx = u16be(b, r);
      const text = ascii(b, r + 2, 20);
      if (idx === 1 && text) idf.model = text;
      if (idx === 6 && text) idf.hardware = text;
      // Firmware version: the record's last three bytes (major, minor, patch) for the firmware index.
      if (idx === 7 || (idx === 1 && !idf.firmware))
        idf.firmware = `V${b[r + recLen - 3]}.${b[r + recLen - 2]}.${b[r + recLen - 1]}`;
    } else if (key === 0x1c && recLen >= 34) {
      const idx = u16be(b, r);
      const text = ascii(b, r + 2, 32);
      if (!text) continue;
      if (idx === 1) idf.hostname = text;
      else if (idx === 2) idf.product = text;
      else if (idx === 3) fields.plant_id = text;
      else if (idx === 4) fields.copyright = text;
      else if (idx === 5) idf.serial = text;
      else if (idx === 7) idf.model ??= text;
    } else if (key === 0x24 && recLen >= 4) {
      const mode = b[r + 3]!;
      idf.plcMode =
        mode === 0x08
          ? 'RUN'
          : mode === 0x03 || mode === 0x04
            ? 'STOP'
            : mode === 0x05
              ? 'STARTUP'
              : `MODE_${mode}`;
    }
  }
  if (Object.keys(idf).length) {
    if (!idf.vendor) idf.vendor = 'Siemens';
    m.identity = idf;
  }
}

const PLUS_OPCODES: Record<number, string> = {
  0x31: 'REQUEST',
  0x32: 'RESPONSE',
  0x33: 'NOTIFICATION',
  0x02: 'RESPONSE2',
};
const PLUS_FUNCTIONS: Record<number, string> = {
  0x04bb: 'EXPLORE',
  0x04ca: 'CREATE_OBJECT',
  0x04d4: 'DELETE_OBJECT',
  0x04f2: 'SET_VARIABLE',
  0x0524: 'GET_VARIABLE',
  0x0542: 'SET_MULTI_VARIABLES',
  0x054c: 'GET_MULTI_VARIABLES',
  0x0556: 'BEGIN_SEQUENCE',
  0x0560: 'END_SEQUENCE',
  0x056b: 'INVOKE',
  0x0586: 'GET_VAR_SUBSTREAMED',
  0x0598: 'SET_VAR_SUBSTREAMED',
};
/** S7comm-plus CreateObject: a session is opened with it; its response carries the server's identity. */
const PLUS_CREATE_OBJECT = 0x04ca;
const PLUS_WRITES = new Set([0x04ca, 0x04d4, 0x04f2, 0x0542, 0x056b, 0x0598]);

/** S7comm-plus (S7-1200/1500): version, length, then opcode and function for data PDUs (v1–v3). */
function s7plus(
  b: Uint8Array,
  p: number,
  n: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 's7comm_plus');
  out.push(m);
  if (n < 4) {
    m.anomaly = { kind: 'header_truncated', detail: 'S7comm-plus header truncated' };
    return;
  }
  const version = b[p + 1]!;
  m.fields = { version };
  m.role = toServer ? 'request' : 'response';
  // Integrity-protected versions carry a digest before the data (v3: 1 length byte + 32 bytes).
  let q = p + 4;
  if (version === 3 && n >= 4 + 33) q += 1 + b[q]!;
  if (q + 5 > p + n) return;
  const opcode = b[q]!;
  m.fields.opcode = PLUS_OPCODES[opcode] ?? `OPCODE_0x${opcode.toString(16)}`;
  if (opcode === 0x31 || opcode === 0x32) {
    const fn = u16be(b, q + 3);
    m.func = fn;
    m.funcName = PLUS_FUNCTIONS[fn] ?? `FUNCTION_0x${fn.toString(16)}`;
    m.role = opcode === 0x31 ? 'request' : 'response';
    m.write = opcode === 0x31 && PLUS_WRITES.has(fn);
    if (q + 7 <= p + n) m.txId = u16be(b, q + 5);
    // The CreateObject response opening a session names the PLC (ServerSessionVersion attribute).
    if (opcode === 0x32 && fn === PLUS_CREATE_OBJECT) {
      const id = serverSessionIdentity(b, q + 7, p + n);
      if (id !== null) {
        m.identity = id;
        m.fields.order_number = id.model!;
        m.fields.firmware = id.firmware!;
      }
    }
  } else if (opcode === 0x33) {
    m.role = 'unsolicited';
    m.funcName = 'NOTIFICATION';
  }
}

/** Job functions that transfer the program or change whether it runs. Always worth a line. */
const OPERATIONS = {
  0x1a: { kind: 'program_download', what: 'started a program block download' },
  0x1b: { kind: 'program_download', what: 'downloaded a program block' },
  0x1c: { kind: 'program_download', what: 'ended a program block download' },
  0x1d: { kind: 'program_upload', what: 'started a program block upload' },
  0x1e: { kind: 'program_upload', what: 'uploaded a program block' },
  0x1f: { kind: 'program_upload', what: 'ended a program block upload' },
  [FUNC_PI_SERVICE]: { kind: 'cpu_start', what: 'ran a PI service (start/compress/insert/delete)' },
  [FUNC_PLC_STOP]: { kind: 'cpu_stop', what: 'stopped the PLC CPU' },
} as const;

/** Function codes of other PDU types (userdata groups) reuse the numbers: only jobs carry these operations. */
function isJob(m: Message): boolean {
  const rosctr = m.fields?.rosctr;
  return rosctr === undefined || rosctr === ROSCTR_JOB || rosctr === 'JOB';
}

/** PLC_STOP stops the CPU; the PI service P_PROGRAM starts it (warm or cold). */
function requestedMode(m: Message): RequestedMode | null {
  if (m.fields?.rosctr !== 'JOB') return null;
  return m.func === FUNC_PLC_STOP
    ? 'STOP'
    : m.func === FUNC_PI_SERVICE && m.fields.pi_service === 'P_PROGRAM'
      ? 'RUN'
      : null;
}

export const s7commProtocol: ProtocolDescriptor<S7commAnomaly> = {
  name: 's7comm',
  title: 'S7comm',
  industrial: true,
  serverPort: { transport: 'tcp', port: 102 },
  ports: { tcp: [102], udp: [] },
  etherTypes: [],
  functions: JOB_FUNCTIONS,
  category: s7Category,
  operations: OPERATIONS,
  carriesOperation: isJob,
  requestedMode,
  anomalies: S7COMM_ANOMALIES,
  stream: s7comm,
};

/** S7comm-plus (S7-1200/1500) shares port 102 and the COTP framing with S7comm; the S7comm dissector reads both. */
export const s7commPlusProtocol: ProtocolDescriptor<S7commPlusAnomaly> = {
  name: 's7comm_plus',
  title: 'S7comm-plus',
  industrial: true,
  carrier: 's7comm',
  sibling: true,
  // Not steered to the inline gateway yet: a group naming it is enforced by port or reported unenforceable.
  gateway: false,
  serverPort: { transport: 'tcp', port: 102 },
  ports: { tcp: [], udp: [] },
  etherTypes: [],
  functions: PLUS_FUNCTIONS,
  category: s7Category,
  operations: {},
  anomalies: S7COMM_PLUS_ANOMALIES,
};
