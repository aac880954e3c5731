// IEC 61850 / ISO 9506 MMS over the OSI upper layers on ISO-on-TCP (RFC 1006, port 102): COTP user data is an
// ISO 8327 session SPDU, carrying an ISO 8823 presentation PPDU (BER), carrying an MMS PDU — or, while the
// association is set up or released, an ACSE APDU around it. S7comm shares the port and the COTP framing; its
// dissector hands every COTP unit that does not start with an S7 protocol id (0x32, 0x72) here.
import type { ProtocolDescriptor } from '../protocol.js';
import {
  newMessage,
  markMalformed,
  type Malformed,
  type Message,
  type PduContext,
  type Target,
} from '../message.js';
import { u16be } from '../bytes.js';
import { berInt, berString, newTlv, readTlv, type Tlv } from './ber.js';
import { collectData } from './mms-data.js';
import {
  CONFIRMED_SERVICES,
  MMS_FUNCTIONS,
  PDU_BASE,
  PDU_CONFIRMED_ERROR,
  PDU_CONFIRMED_REQUEST,
  PDU_CONFIRMED_RESPONSE,
  PDU_INITIATE_REQUEST,
  PDU_INITIATE_RESPONSE,
  PDU_NAMES,
  PDU_UNCONFIRMED,
  SVC_FILE_DELETE,
  SVC_FILE_OPEN,
  SVC_FILE_READ,
  SVC_GET_NAME_LIST,
  SVC_GET_NAMED_VAR_LIST_ATTRIBUTES,
  SVC_GET_VAR_ACCESS_ATTRIBUTES,
  SVC_IDENTIFY,
  SVC_READ,
  SVC_WRITE,
  UNCONFIRMED_BASE,
  UNCONFIRMED_SERVICES,
  SVC_OBTAIN_FILE,
  SVC_FILE_RENAME,
} from './mms-names.js';
import {
  mmsCarriesOperation,
  mmsCategory,
  MMS_OPERATIONS,
  mmsRequestedMode,
} from './mms-categories.js';

/** Kinds of malformed MMS unit (the `kind` of a Message's anomaly). */
export const MMS_ANOMALIES = [
  'presentation_malformed',
  'pdu_malformed',
  'tsdu_abandoned',
  'tsdu_too_large',
] as const;
export type MmsAnomaly = (typeof MMS_ANOMALIES)[number];
const malformed: Malformed<MmsAnomaly> = markMalformed;

/** ISO 8327 SPDU identifiers seen on an MMS association. */
const SPDU_DT = 0x01, // also Give Tokens, which precedes every DT in the kernel functional unit
  SPDU_CN = 0x0d,
  SPDU_AC = 0x0e,
  SPDU_RF = 0x0c,
  SPDU_FN = 0x09,
  SPDU_DN = 0x0a,
  SPDU_NF = 0x08,
  SPDU_AB = 0x19,
  SPDU_AA = 0x1a;
/** Session parameter (group) carrying the presentation PPDU: User Data, Extended User Data. */
const PGI_USER_DATA = 0xc1,
  PGI_EXTENDED_USER_DATA = 0xc2;

/** True when a COTP unit's first byte is an ISO session SPDU that MMS associations use. */
export function isSessionSpdu(first: number): boolean {
  return (
    first === SPDU_DT ||
    first === SPDU_CN ||
    first === SPDU_AC ||
    first === SPDU_RF ||
    first === SPDU_FN ||
    first === SPDU_DN ||
    first === SPDU_NF ||
    first === SPDU_AB ||
    first === SPDU_AA
  );
}

/** Confirmed requests that change the server: writes, definitions and deletions, downloads, program control. */
const CHANGES = new Set([
  3, 5, 7, 8, 10, 11, 13, 14, 16, 18, 19, 21, 22, 26, 27, 28, 32, 34, 36, 38, 39, 40, 41, 42, 43,
  44, 46, 47, 48, 51, 52, 53, 54, 57, 58, 59, 62, 66, 67, 69, 70, 75, 76,
]);

/** At most this many named variables become targets, and this many values are kept, per PDU. */
const MAX_TARGETS = 64;
const MAX_VALUES = 256;
const MAX_NAMES = 16;

/**
 * One COTP unit whose first byte is a session SPDU: finds the MMS PDU inside and dissects it. The session layer
 * must frame the unit exactly (Give Tokens + DT as every MMS stack sends it, or one SPDU filling the unit), or
 * the unit is left alone as S7 did before: after a lost TCP segment an S7 continuation fragment can start with
 * any byte, and must not become a malformed MMS message.
 */
export function mmsUnit(
  b: Uint8Array,
  p: number,
  n: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const end = p + n;
  const si = b[p]!;
  if (si === SPDU_DT) {
    // Give Tokens (no parameters) then Data Transfer (no parameters), then the PPDU.
    if (n < 5 || b[p + 1] !== 0 || b[p + 2] !== SPDU_DT || b[p + 3] !== 0) return;
    presentationData(b, p + 4, end, ctx, toServer, out);
    return;
  }
  const spdu = spduHeader(b, p, end);
  if (spdu === null || spdu.bodyEnd !== end) return;
  // Connect, accept, finish, disconnect, abort, refuse: user data is a parameter of the SPDU.
  const ud = userDataParameter(b, spdu.body, spdu.bodyEnd);
  if (ud === null) return;
  if (si === SPDU_CN || si === SPDU_AC) connectPresentation(b, ud[0], ud[1], ctx, toServer, out);
  // FN/DN/AB carry ACSE release or abort: no MMS inside (MMS conclude travels in DT before them).
}

interface Spdu {
  body: number;
  bodyEnd: number;
}

/**
 * The [start, end) of the value behind the code byte at p: ISO session lengths are one byte, or 0xff and two more
 * (the SPDU itself and each of its parameters). Null when it does not fit before end.
 */
function sessionValue(b: Uint8Array, p: number, end: number): [number, number] | null {
  if (p + 2 > end) return null;
  let len = b[p + 1]!,
    h = 2;
  if (len === 0xff) {
    if (p + 4 > end) return null;
    len = u16be(b, p + 2);
    h = 4;
  }
  if (p + h + len > end) return null;
  return [p + h, p + h + len];
}

function spduHeader(b: Uint8Array, p: number, end: number): Spdu | null {
  const v = sessionValue(b, p, end);
  return v === null ? null : { body: v[0], bodyEnd: v[1] };
}

/** Find the User Data parameter among an SPDU's parameters; [start, end) of its value, or null. */
function userDataParameter(b: Uint8Array, q: number, end: number): [number, number] | null {
  while (q + 2 <= end) {
    const v = sessionValue(b, q, end);
    if (v === null) return null;
    if (b[q] === PGI_USER_DATA || b[q] === PGI_EXTENDED_USER_DATA) return v;
    q = v[1];
  }
  return null;
}

/** A fresh MMS message in `out`, its role from the direction until the PDU says more. */
function message(ctx: PduContext, toServer: boolean, out: Message[]): Message {
  const m = newMessage(ctx, 'mms');
  m.role = toServer ? 'request' : 'response';
  out.push(m);
  return m;
}

/**
 * Presentation user data in the transfer phase: fully-encoded-data [APPLICATION 1], a list of PDVs, each a
 * context id and a single ASN.1 value — an MMS PDU (context-class tag) or an ACSE APDU (application class).
 */
function presentationData(
  b: Uint8Array,
  q: number,
  end: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const h = newTlv(),
    t = newTlv();
  if (!readTlv(b, q, end, h) || h.cls !== 1 || h.tag !== 1) {
    malformed(
      message(ctx, toServer, out),
      'presentation_malformed',
      'presentation user data is not fully-encoded-data',
    );
    return;
  }
  const pdvEnd = h.end;
  for (let o = h.value; o < pdvEnd; ) {
    const pdv = newTlv();
    if (!readTlv(b, o, pdvEnd, pdv) || pdv.tag !== 16) {
      malformed(message(ctx, toServer, out), 'presentation_malformed', 'PDV-list malformed');
      return;
    }
    o = pdv.end;
    // transfer-syntax-name (OID, optional), presentation-context-identifier, presentation-data-values.
    let c = pdv.value,
      ctxId = -1;
    while (c < pdv.end && readTlv(b, c, pdv.end, t)) {
      if (t.cls === 0 && t.tag === 2) ctxId = berInt(b, t);
      else if (t.cls === 2 && t.tag === 0 && t.constructed) {
        apdu(b, t.value, t.end, ctx, toServer, out, ctxId);
        break;
      }
      c = t.end;
    }
  }
}

/** The value of a single-ASN1-type PDV: MMS, or ACSE wrapping MMS in its user-information. */
function apdu(
  b: Uint8Array,
  q: number,
  end: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  ctxId: number,
): void {
  const t = newTlv();
  if (!readTlv(b, q, end, t)) {
    malformed(message(ctx, toServer, out), 'pdu_malformed', 'PDV value is not BER');
    return;
  }
  if (t.cls === 2) mmsPdu(b, q, t, ctx, toServer, out, ctxId);
  else if (t.cls === 1 && (t.tag === 0 || t.tag === 1)) acse(b, t, ctx, toServer, out);
  // Release and abort APDUs (RLRQ, RLRE, ABRT) carry no MMS.
}

/** ACSE AARQ/AARE: user-information [30] holds EXTERNALs whose single-ASN1-type [0] is the MMS initiate PDU. */
function acse(b: Uint8Array, a: Tlv, ctx: PduContext, toServer: boolean, out: Message[]): void {
  const t = newTlv(),
    e = newTlv(),
    x = newTlv();
  for (let o = a.value; o < a.end && readTlv(b, o, a.end, t); o = t.end) {
    if (t.cls !== 2 || t.tag !== 30) continue;
    for (let i = t.value; i < t.end && readTlv(b, i, t.end, e); i = e.end) {
      if (e.tag !== 8) continue; // EXTERNAL
      for (let j = e.value; j < e.end && readTlv(b, j, e.end, x); j = x.end)
        if (x.cls === 2 && x.tag === 0 && x.constructed) {
          const v = newTlv();
          if (readTlv(b, x.value, x.end, v)) mmsPdu(b, x.value, v, ctx, toServer, out, -1);
          else
            malformed(message(ctx, toServer, out), 'pdu_malformed', 'MMS PDU in ACSE is not BER');
          return;
        }
    }
  }
}

/**
 * Connection set-up: CP-type / CPA-PPDU (SET) whose normal-mode-parameters [2] end with fully-encoded-data holding
 * ACSE AARQ/AARE, which holds the MMS initiate PDU.
 */
function connectPresentation(
  b: Uint8Array,
  q: number,
  end: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const set = newTlv(),
    t = newTlv(),
    u = newTlv();
  if (!readTlv(b, q, end, set) || set.tag !== 17) return; // CPR (refuse) is a SEQUENCE: nothing inside
  for (let o = set.value; o < set.end && readTlv(b, o, set.end, t); o = t.end) {
    if (t.cls !== 2 || t.tag !== 2 || !t.constructed) continue;
    for (let i = t.value; i < t.end && readTlv(b, i, t.end, u); i = u.end)
      if (u.cls === 1 && u.tag === 1) {
        presentationData(b, i, u.end, ctx, toServer, out);
        return;
      }
  }
}

/** One MMS PDU (`t` is its outer element at `q`). */
function mmsPdu(
  b: Uint8Array,
  q: number,
  t: Tlv,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
  ctxId: number,
): void {
  const m = message(ctx, toServer, out);
  const kind = t.tag;
  m.subfunc = kind;
  const fields: Record<string, string | number | boolean> = {
    pdu: PDU_NAMES[kind] ?? `PDU_${kind}`,
  };
  if (ctxId >= 0) fields.presentation_context = ctxId;
  m.fields = fields;
  if (kind > 13) {
    malformed(m, 'pdu_malformed', `unknown MMS PDU tag ${kind}`);
    return;
  }
  const c = newTlv();
  switch (kind) {
    case PDU_CONFIRMED_REQUEST:
    case PDU_CONFIRMED_RESPONSE: {
      m.role = kind === PDU_CONFIRMED_REQUEST ? 'request' : 'response';
      const id = newTlv();
      if (!readTlv(b, t.value, t.end, id) || id.cls !== 0 || id.tag !== 2) {
        malformed(m, 'pdu_malformed', 'confirmed PDU without invokeID');
        return;
      }
      m.txId = berInt(b, id);
      if (Number.isNaN(m.txId)) {
        m.txId = -1;
        malformed(m, 'pdu_malformed', 'invokeID is not an Unsigned32');
        return;
      }
      fields.invoke_id = m.txId;
      if (!readTlv(b, id.end, t.end, c)) {
        malformed(m, 'pdu_malformed', 'confirmed PDU without a service');
        return;
      }
      // listOfModifier (requests only) precedes the service.
      if (c.cls === 0 && c.tag === 16 && !readTlv(b, c.end, t.end, c)) {
        malformed(m, 'pdu_malformed', 'confirmed PDU without a service');
        return;
      }
      if (c.cls !== 2) {
        malformed(m, 'pdu_malformed', 'confirmed service is not context-tagged');
        return;
      }
      m.func = c.tag;
      m.funcName = CONFIRMED_SERVICES[c.tag] ?? `SERVICE_${c.tag}`;
      fields.service = m.funcName;
      if (kind === PDU_CONFIRMED_REQUEST) request(m, b, c, fields);
      else response(m, b, c, fields);
      return;
    }
    case PDU_CONFIRMED_ERROR: {
      m.role = 'response';
      confirmedError(m, b, t, fields);
      return;
    }
    case PDU_UNCONFIRMED: {
      m.role = 'unsolicited';
      if (!readTlv(b, t.value, t.end, c) || c.cls !== 2) {
        malformed(m, 'pdu_malformed', 'unconfirmed PDU without a service');
        return;
      }
      m.func = UNCONFIRMED_BASE + c.tag;
      m.funcName = UNCONFIRMED_SERVICES[c.tag] ?? `UNCONFIRMED_${c.tag}`;
      fields.service = m.funcName;
      if (c.tag === 0) informationReport(m, b, c, fields);
      return;
    }
    default: {
      m.func = PDU_BASE + kind;
      m.funcName = PDU_NAMES[kind]!;
      // Requests: initiate, conclude and cancel requests; responses and errors answer them.
      m.role =
        kind === 5 || kind === 8 || kind === 11 ? 'request' : kind === 4 ? m.role : 'response';
      if (kind === PDU_INITIATE_REQUEST || kind === PDU_INITIATE_RESPONSE) initiate(b, t, fields);
      else if (kind === 5 || kind === 6) {
        m.txId = berInt(b, t);
        if (!Number.isNaN(m.txId)) fields.invoke_id = m.txId;
        else m.txId = -1;
      }
      if (kind === 10 || kind === 13 || kind === 7) m.exception = 0;
      return;
    }
  }
}

/** Initiate request/response: the negotiated limits and the MMS version. */
function initiate(b: Uint8Array, t: Tlv, fields: Record<string, string | number | boolean>): void {
  const c = newTlv(),
    d = newTlv();
  for (let o = t.value; o < t.end && readTlv(b, o, t.end, c); o = c.end) {
    if (c.cls !== 2) continue;
    if (c.tag === 0) fields.local_detail = berInt(b, c);
    else if (c.tag === 1) fields.max_serv_outstanding_calling = berInt(b, c);
    else if (c.tag === 2) fields.max_serv_outstanding_called = berInt(b, c);
    else if (c.tag === 3) fields.data_structure_nesting_level = berInt(b, c);
    else if (c.tag === 4 && c.constructed)
      for (let i = c.value; i < c.end && readTlv(b, i, c.end, d); i = d.end)
        if (d.cls === 2 && d.tag === 0) fields.version = berInt(b, d);
  }
}

/** The name an ObjectName element gives: domain/item for domain-specific names, the bare identifier otherwise. */
function objectName(b: Uint8Array, t: Tlv): string | null {
  if (t.cls !== 2) return null;
  if (t.tag === 0 || t.tag === 2) return t.constructed ? null : berString(b, t);
  if (t.tag !== 1 || !t.constructed) return null;
  const d = newTlv();
  if (!readTlv(b, t.value, t.end, d)) return null;
  const domain = berString(b, d);
  if (!readTlv(b, d.end, t.end, d)) return domain;
  return `${domain}/${berString(b, d)}`;
}

function addTarget(targets: Target[], name: string | null): void {
  if (name !== null && targets.length < MAX_TARGETS)
    targets.push({ space: name, start: 0, count: 1 });
}

/** VariableAccessSpecification: listOfVariable [0] of (VariableSpecification, alternate access) or variableListName [1]. */
function variableAccess(b: Uint8Array, v: Tlv, targets: Target[]): void {
  const s = newTlv(),
    n = newTlv(),
    o = newTlv();
  if (v.tag === 1 && v.constructed) {
    if (readTlv(b, v.value, v.end, n)) addTarget(targets, objectName(b, n));
    return;
  }
  if (v.tag !== 0 || !v.constructed) return;
  for (let i = v.value; i < v.end && readTlv(b, i, v.end, s); i = s.end) {
    // SEQUENCE { variableSpecification CHOICE { name [0] ObjectName, … }, alternateAccess [5] OPTIONAL }
    if (!readTlv(b, s.value, s.end, n)) continue;
    if (n.cls === 2 && n.tag === 0 && n.constructed && readTlv(b, n.value, n.end, o))
      addTarget(targets, objectName(b, o));
  }
}

function setTargets(
  m: Message,
  targets: Target[],
  fields: Record<string, string | number | boolean>,
): void {
  if (targets.length === 0) return;
  m.targets = targets;
  const first = targets[0]!.space;
  const slash = first.indexOf('/');
  if (slash >= 0) {
    fields.domain_id = first.slice(0, slash);
    fields.item_id = first.slice(slash + 1);
  } else fields.item_id = first;
}

/** FileName: a SEQUENCE OF GraphicString, joined as a path. */
function fileName(b: Uint8Array, t: Tlv): string {
  const s = newTlv();
  const parts: string[] = [];
  for (let i = t.value; i < t.end && readTlv(b, i, t.end, s); i = s.end)
    parts.push(berString(b, s));
  return parts.join('');
}

function request(
  m: Message,
  b: Uint8Array,
  c: Tlv,
  fields: Record<string, string | number | boolean>,
): void {
  const t = newTlv(),
    u = newTlv();
  const targets: Target[] = [];
  switch (c.tag) {
    case SVC_READ:
      // specificationWithResult [0] OPTIONAL, variableAccessSpecification [1] (explicit CHOICE).
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end)
        if (t.cls === 2 && t.tag === 1 && t.constructed && readTlv(b, t.value, t.end, u))
          variableAccess(b, u, targets);
      break;
    case SVC_WRITE:
      // variableAccessSpecification (the CHOICE itself), then listOfData [0].
      if (readTlv(b, c.value, c.end, t)) {
        variableAccess(b, t, targets);
        if (readTlv(b, t.end, c.end, u) && u.cls === 2 && u.tag === 0) {
          const values: number[] = [];
          if (collectData(b, u.value, u.end, values, MAX_VALUES) < 0)
            malformed(m, 'pdu_malformed', 'write data is not BER');
          if (values.length) m.values = values;
        }
      }
      break;
    case SVC_GET_VAR_ACCESS_ATTRIBUTES:
      // CHOICE { name [0] ObjectName, address [1] }
      if (
        readTlv(b, c.value, c.end, t) &&
        t.tag === 0 &&
        t.constructed &&
        readTlv(b, t.value, t.end, u)
      )
        addTarget(targets, objectName(b, u));
      break;
    case SVC_GET_NAMED_VAR_LIST_ATTRIBUTES:
      if (readTlv(b, c.value, c.end, t)) addTarget(targets, objectName(b, t));
      break;
    case SVC_GET_NAME_LIST:
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end) {
        if (t.cls !== 2) continue;
        if (t.tag === 0 && readTlv(b, t.value, t.end, u) && u.tag === 0)
          fields.object_class = berInt(b, u);
        else if (t.tag === 1 && readTlv(b, t.value, t.end, u)) {
          fields.object_scope = u.tag === 0 ? 'vmd' : u.tag === 1 ? 'domain' : 'aa';
          if (u.tag === 1) fields.domain_id = berString(b, u);
        } else if (t.tag === 2) fields.continue_after = berString(b, t);
      }
      break;
    case SVC_FILE_OPEN:
    case SVC_OBTAIN_FILE:
    case SVC_FILE_RENAME:
      // fileOpen { fileName [0], initialPosition [1] }; obtainFile and fileRename name source files first.
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end)
        if (t.cls === 2 && t.constructed && t.tag <= 1) {
          fields.file_name = fileName(b, t);
          break;
        }
      break;
    case SVC_FILE_DELETE:
      fields.file_name = fileName(b, c);
      break;
    case SVC_FILE_READ: {
      const frsm = berInt(b, c);
      if (!Number.isNaN(frsm)) fields.frsm_id = frsm;
      break;
    }
  }
  setTargets(m, targets, fields);
  if (fields.file_name !== undefined)
    m.targets = [{ space: `file:${fields.file_name}`, start: 0, count: 1 }];
  m.write = CHANGES.has(c.tag);
}

function response(
  m: Message,
  b: Uint8Array,
  c: Tlv,
  fields: Record<string, string | number | boolean>,
): void {
  const t = newTlv(),
    u = newTlv();
  switch (c.tag) {
    case SVC_IDENTIFY: {
      // vendorName [0], modelName [1], revision [2], listOfAbstractSyntaxes [3] OPTIONAL
      const id: { vendor?: string; model?: string; firmware?: string } = {};
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end) {
        if (t.cls !== 2 || t.constructed) continue;
        const s = berString(b, t);
        if (!s) continue;
        if (t.tag === 0) id.vendor = s;
        else if (t.tag === 1) id.model = s;
        else if (t.tag === 2) id.firmware = s;
      }
      if (id.vendor !== undefined || id.model !== undefined || id.firmware !== undefined)
        m.identity = { ...id, deviceType: 'MMS server' };
      break;
    }
    case SVC_READ: {
      // variableAccessSpecification [0] OPTIONAL, listOfAccessResult [1]: Data or failure [0] DataAccessError.
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end)
        if (t.cls === 2 && t.tag === 1 && t.constructed) accessResults(m, b, t, fields);
      break;
    }
    case SVC_WRITE: {
      let failures = 0;
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end)
        if (t.cls === 2 && t.tag === 0) {
          failures++;
          if (m.exception < 0) m.exception = berInt(b, t);
        }
      if (failures) fields.access_failures = failures;
      break;
    }
    case SVC_GET_NAME_LIST: {
      const names: string[] = [];
      let count = 0;
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end) {
        if (t.cls === 2 && t.tag === 0 && t.constructed)
          for (let i = t.value; i < t.end && readTlv(b, i, t.end, u); i = u.end) {
            count++;
            if (names.length < MAX_NAMES) names.push(berString(b, u));
          }
        else if (t.cls === 2 && t.tag === 1) fields.more_follows = b[t.value] !== 0;
      }
      fields.names_count = count;
      if (names.length) fields.names = names.join(',');
      break;
    }
    case SVC_FILE_OPEN: {
      // frsmID [0], fileAttributes [1] { sizeOfFile [0], lastModified [1] }
      for (let o = c.value; o < c.end && readTlv(b, o, c.end, t); o = t.end)
        if (t.cls === 2 && t.tag === 0 && !t.constructed) fields.frsm_id = berInt(b, t);
      break;
    }
  }
}

/** Read results and report entries: values kept, failures counted (the first as the exception). */
function accessResults(
  m: Message,
  b: Uint8Array,
  list: Tlv,
  fields: Record<string, string | number | boolean>,
): void {
  const t = newTlv();
  let failures = 0;
  for (let o = list.value; o < list.end && readTlv(b, o, list.end, t); o = t.end)
    if (t.cls === 2 && t.tag === 0 && !t.constructed) {
      failures++;
      if (m.exception < 0) m.exception = berInt(b, t);
    }
  if (failures) fields.access_failures = failures;
  const values: number[] = [];
  const rpt = { value: null as string | null };
  if (collectData(b, list.value, list.end, values, MAX_VALUES, rpt) < 0)
    malformed(m, 'pdu_malformed', 'access results are not BER');
  if (values.length) m.values = values;
  if (rpt.value !== null && m.funcName === 'informationReport') fields.report_id = rpt.value;
}

/** informationReport { variableAccessSpecification, listOfAccessResult [0] } (IEC 61850 reports name "RPT"). */
function informationReport(
  m: Message,
  b: Uint8Array,
  c: Tlv,
  fields: Record<string, string | number | boolean>,
): void {
  const t = newTlv();
  const targets: Target[] = [];
  if (!readTlv(b, c.value, c.end, t)) {
    malformed(m, 'pdu_malformed', 'informationReport without variables');
    return;
  }
  variableAccess(b, t, targets);
  setTargets(m, targets, fields);
  const r = newTlv();
  if (readTlv(b, t.end, c.end, r) && r.cls === 2 && r.tag === 0) accessResults(m, b, r, fields);
}

/** confirmed-ErrorPDU { invokeID [0], modifierPosition [1] OPTIONAL, serviceError [2] { errorClass [0] CHOICE } }. */
function confirmedError(
  m: Message,
  b: Uint8Array,
  t: Tlv,
  fields: Record<string, string | number | boolean>,
): void {
  const c = newTlv(),
    e = newTlv(),
    k = newTlv();
  for (let o = t.value; o < t.end && readTlv(b, o, t.end, c); o = c.end) {
    if (c.cls !== 2) continue;
    if (c.tag === 0 && !c.constructed) {
      const id = berInt(b, c);
      if (!Number.isNaN(id)) fields.invoke_id = m.txId = id;
    } else if (c.tag === 2 && c.constructed && readTlv(b, c.value, c.end, e) && e.tag === 0) {
      if (readTlv(b, e.value, e.end, k)) {
        const code = berInt(b, k);
        fields.error_class = k.tag;
        fields.error_code = code;
        m.exception = k.tag * 256 + (Number.isNaN(code) ? 0 : code);
      }
    }
  }
  if (m.exception < 0) m.exception = 0;
}

export const mmsProtocol: ProtocolDescriptor<MmsAnomaly> = {
  name: 'mms',
  title: 'IEC 61850 MMS',
  industrial: true,
  // ISO-on-TCP is shared with S7comm, whose dissector reads the COTP layer and hands session units here.
  carrier: 's7comm',
  // MMS is no S7 layer: an S7 group does not admit it (the gateway refuses it on an S7 conduit).
  foreign: true,
  // IEDs serve the substation's SCADA/gateway, as outstations serve a master.
  outstation: true,
  serverPort: { transport: 'tcp', port: 102 },
  ports: { tcp: [], udp: [] },
  etherTypes: [],
  functions: MMS_FUNCTIONS,
  category: mmsCategory,
  operations: MMS_OPERATIONS,
  carriesOperation: mmsCarriesOperation,
  requestedMode: mmsRequestedMode,
  anomalies: MMS_ANOMALIES,
};
