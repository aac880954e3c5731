import type { DatagramDissector, ProtocolDescriptor } from '../protocol.js';
import { ETHERTYPE_BACNET_LLC, type LinkDissector } from '../link-dissector.js';
import { newMessage, type Message, markMalformed, type Malformed } from '../message.js';
import { u16be, u32be } from '../bytes.js';
import {
  BACNET_VENDORS,
  BVLC_FUNCTIONS,
  CONFIRMED,
  CONFIRMED_WRITES,
  OBJECT_TYPES,
  PDU_TYPES,
  UNCONFIRMED,
  UNCONFIRMED_WRITES,
} from './bacnet-tables.js';

/** Unconfirmed service codes are reported as 256 + service, so they never collide with confirmed ones. */
export const UNCONFIRMED_BASE = 256;

/** Kinds of malformed BACnet PDU (the `kind` of a Message's anomaly). */
export const BACNET_ANOMALIES = [
  'bvlc_length_mismatch',
  'npdu_version',
  'npdu_truncated',
  'apdu_missing',
  'apdu_type_unknown',
  'apdu_truncated',
] as const;
export type BacnetAnomaly = (typeof BACNET_ANOMALIES)[number];

const malformed: Malformed<BacnetAnomaly> = markMalformed;

type Fields = Record<string, string | number | boolean>;

/** BACnet/IP: BVLC, NPDU, APDU (UDP 47808). */
export const bacnet: DatagramDissector = {
  protocol: 'bacnet',
  dissect(b, off, len, ctx, _toServer, out) {
    if (len < 4 || b[off] !== 0x81) return;
    const m = newMessage(ctx, 'bacnet');
    out.push(m);
    const fn = b[off + 1]!;
    const bvlcLen = u16be(b, off + 2);
    const bvlc = BVLC_FUNCTIONS[fn] ?? `BVLC_0x${fn.toString(16)}`;
    m.role = fn === 0x0b || fn === 0x09 ? 'broadcast' : 'unknown';
    if (bvlcLen !== len)
      malformed(m, 'bvlc_length_mismatch', `BVLC length ${bvlcLen} differs from datagram (${len})`);
    const end = off + Math.min(len, Math.max(bvlcLen, 4));
    let p = off + 4;
    if (fn === 0x04) p += 6;
    else if (fn !== 0x0a && fn !== 0x0b && fn !== 0x09) {
      m.fields = { bvlc_function: bvlc };
      m.funcName = bvlc;
      return;
    }
    npdu(m, b, p, end, bvlc);
  },
};

/** BACnet/Ethernet: the NPDU rides directly in an LLC frame (DSAP/SSAP 0x82). */
export const bacnetLlc: LinkDissector = {
  protocol: 'bacnet',
  dissect(b, off, len, ctx, out) {
    const m = newMessage(ctx, 'bacnet');
    out.push(m);
    m.role = ctx.dstMac === 'ff:ff:ff:ff:ff:ff' ? 'broadcast' : 'unknown';
    npdu(m, b, off, off + len, 'none (BACnet/Ethernet)');
  },
};

// The fields of a PDU are built in one object literal once the whole PDU is read (their order is the order
// of the layers: BVLC, NPDU networks, APDU), so the common shapes are allocated whole with every property in
// the object itself; rare paths (malformed, network messages, errors, I-Am) start from `head` and add the rest.
// A network number absent from the NPDU is -1.

/** The BVLC and NPDU fields: one literal per combination of destination and source network. */
function head(bvlc: string, dnet: number, snet: number): Fields {
  if (dnet < 0) return snet < 0 ? { bvlc_function: bvlc } : { bvlc_function: bvlc, snet };
  return snet < 0 ? { bvlc_function: bvlc, dnet } : { bvlc_function: bvlc, dnet, snet };
}

/** head + the APDU type and service. */
function service(bvlc: string, dnet: number, snet: number, type: string, svc: string): Fields {
  if (dnet < 0)
    return snet < 0
      ? { bvlc_function: bvlc, pdu_type: type, pdu_service: svc }
      : { bvlc_function: bvlc, snet, pdu_type: type, pdu_service: svc };
  return snet < 0
    ? { bvlc_function: bvlc, dnet, pdu_type: type, pdu_service: svc }
    : { bvlc_function: bvlc, dnet, snet, pdu_type: type, pdu_service: svc };
}

/** service + the object of a read/write property style request or ack, and its property (-1: none). */
function objectFields(
  bvlc: string,
  dnet: number,
  snet: number,
  type: string,
  svc: string,
  space: string,
  inst: number,
  property: number,
): Fields {
  if (property < 0) {
    const f = service(bvlc, dnet, snet, type, svc);
    f.object_type = space;
    f.instance_number = inst;
    return f;
  }
  if (dnet < 0)
    return snet < 0
      ? {
          bvlc_function: bvlc,
          pdu_type: type,
          pdu_service: svc,
          object_type: space,
          instance_number: inst,
          property,
        }
      : {
          bvlc_function: bvlc,
          snet,
          pdu_type: type,
          pdu_service: svc,
          object_type: space,
          instance_number: inst,
          property,
        };
  return snet < 0
    ? {
        bvlc_function: bvlc,
        dnet,
        pdu_type: type,
        pdu_service: svc,
        object_type: space,
        instance_number: inst,
        property,
      }
    : {
        bvlc_function: bvlc,
        dnet,
        snet,
        pdu_type: type,
        pdu_service: svc,
        object_type: space,
        instance_number: inst,
        property,
      };
}

function npdu(m: Message, b: Uint8Array, p: number, end: number, bvlc: string): void {
  if (end - p < 2 || b[p] !== 0x01) {
    m.fields = { bvlc_function: bvlc };
    malformed(m, 'npdu_version', 'NPDU version is not 1');
    return;
  }
  const ctl = b[p + 1]!;
  p += 2;
  let dnet = -1,
    snet = -1;
  if (ctl & 0x20) {
    // destination network
    if (p + 3 > end) {
      m.fields = head(bvlc, dnet, snet);
      malformed(m, 'npdu_truncated', 'NPDU destination truncated');
      return;
    }
    dnet = u16be(b, p);
    p += 3 + b[p + 2]!;
  }
  if (ctl & 0x08) {
    // source network
    if (p + 3 > end) {
      m.fields = head(bvlc, dnet, snet);
      malformed(m, 'npdu_truncated', 'NPDU source truncated');
      return;
    }
    snet = u16be(b, p);
    p += 3 + b[p + 2]!;
  }
  if (ctl & 0x20) p += 1; // hop count
  if (p > end) {
    m.fields = head(bvlc, dnet, snet);
    malformed(m, 'npdu_truncated', 'NPDU truncated');
    return;
  }
  if (ctl & 0x80) {
    // network layer message, no APDU
    const t = p < end ? b[p]! : -1;
    m.funcName = `network-message-${t}`;
    const fields = head(bvlc, dnet, snet);
    fields.network_message = t;
    m.fields = fields;
    return;
  }
  apdu(m, b, p, end, bvlc, dnet, snet);
}

function apdu(
  m: Message,
  b: Uint8Array,
  p: number,
  end: number,
  bvlc: string,
  dnet: number,
  snet: number,
): void {
  if (p >= end) {
    m.fields = head(bvlc, dnet, snet);
    malformed(m, 'apdu_missing', 'APDU missing');
    return;
  }
  const type = b[p]! >> 4;
  const pduType = PDU_TYPES[type] ?? `pdu-type-${type}`;
  let q = p,
    svc = -1;
  switch (type) {
    case 0:
    case 3: {
      // confirmed request / complex ack: invoke id, then the service after optional segment fields
      const request = type === 0;
      const idAt = request ? p + 2 : p + 1;
      if (idAt + 2 > end) break;
      m.txId = b[idAt]!;
      q = idAt + 1 + ((b[p]! & 0x08) !== 0 ? 2 : 0) + 1;
      if (q - 1 < end) svc = b[q - 1]!;
      m.role = request ? 'request' : 'response';
      break;
    }
    case 1:
      if (p + 2 > end) break;
      svc = UNCONFIRMED_BASE + b[p + 1]!;
      q = p + 2;
      m.role = m.role === 'broadcast' ? 'broadcast' : 'unsolicited';
      break;
    case 2:
      if (p + 3 > end) break;
      m.txId = b[p + 1]!;
      svc = b[p + 2]!;
      m.role = 'response';
      break;
    case 5:
      if (p + 3 > end) break;
      m.txId = b[p + 1]!;
      svc = b[p + 2]!;
      m.role = 'response';
      m.exception = errorCode(b, p + 3, end);
      break;
    case 4:
    case 6:
    case 7: {
      const fields = head(bvlc, dnet, snet);
      fields.pdu_type = pduType;
      m.fields = fields;
      if (p + 2 > end) break;
      m.txId = b[p + 1]!;
      m.role = 'response';
      m.funcName = PDU_TYPES[type]!;
      if (type !== 4 && p + 3 <= end) {
        m.exception = b[p + 2]!;
        fields.result_code = b[p + 2]!;
      }
      return;
    }
    default: {
      const fields = head(bvlc, dnet, snet);
      fields.pdu_type = pduType;
      m.fields = fields;
      malformed(m, 'apdu_type_unknown', `unknown APDU type ${type}`);
      return;
    }
  }
  if (svc < 0) {
    const fields = head(bvlc, dnet, snet);
    fields.pdu_type = pduType;
    m.fields = fields;
    malformed(m, 'apdu_truncated', `${pduType} truncated`);
    return;
  }
  m.func = svc;
  const unconfirmed = svc >= UNCONFIRMED_BASE;
  const code = unconfirmed ? svc - UNCONFIRMED_BASE : svc;
  const name = (unconfirmed ? UNCONFIRMED[code] : CONFIRMED[code]) ?? `service-${code}`;
  m.funcName = name;
  if (type === 0) m.write = CONFIRMED_WRITES.has(code);
  else if (unconfirmed) m.write = UNCONFIRMED_WRITES.has(code);
  if (type === 0 || type === 3) {
    // First context tags of read/write property style services: [0] object identifier, [1] property identifier.
    if (q + 5 > end || b[q] !== 0x0c) {
      m.fields = service(bvlc, dnet, snet, pduType, name);
      return;
    }
    const oid = u32be(b, q + 1);
    const otype = oid >>> 22,
      inst = oid & 0x3fffff;
    const space = OBJECT_TYPES[otype] ?? `object-type-${otype}`;
    m.targets = [{ space, start: inst, count: 1 }];
    const t = q + 5;
    let property = -1;
    if (t < end && (b[t]! & 0xf8) === 0x18) {
      // context tag 1, length 1..4
      const l = b[t]! & 7;
      let v = 0;
      for (let i = 0; i < l && t + 1 + i < end; i++) v = v * 256 + b[t + 1 + i]!;
      property = v;
    }
    m.fields = objectFields(bvlc, dnet, snet, pduType, name, space, inst, property);
    return;
  }
  const fields = service(bvlc, dnet, snet, pduType, name);
  m.fields = fields;
  if (unconfirmed && code === 0) iAm(m, b, q, end, fields);
}

/** I-Am: device object identifier, max APDU, segmentation, vendor id (application tags). */
function iAm(m: Message, b: Uint8Array, q: number, end: number, fields: Fields): void {
  if (q + 5 > end || b[q] !== 0xc4) return;
  const inst = u32be(b, q + 1) & 0x3fffff;
  fields.instance_number = inst;
  fields.object_type = 'device';
  const at = { p: q + 5 };
  fields.max_apdu = appValue(b, at, end);
  fields.segmentation = appValue(b, at, end);
  const vendor = appValue(b, at, end);
  fields.vendor_id = vendor;
  // Two literals, not a spread of an optional part: one shape each, no copy.
  m.identity =
    vendor >= 0
      ? {
          deviceType: 'bacnet-device',
          vendor: BACNET_VENDORS[vendor] ?? `BACnet vendor ${vendor}`,
          model: `device ${inst}`,
        }
      : { deviceType: 'bacnet-device', model: `device ${inst}` };
}

/** Error PDU: error class and code as two enumerated application tags; returns class * 256 + code. */
function errorCode(b: Uint8Array, p: number, end: number): number {
  const at = { p };
  const cls = Math.max(0, appValue(b, at, end)),
    code = Math.max(0, appValue(b, at, end));
  return cls * 256 + code;
}

/** An unsigned/enumerated application tag (short length form) at `at.p`, advancing it; -1 past the end. */
function appValue(b: Uint8Array, at: { p: number }, end: number): number {
  if (at.p >= end) return -1;
  const l = b[at.p]! & 7;
  let v = 0;
  for (let i = 0; i < l && at.p + 1 + i < end; i++) v = v * 256 + b[at.p + 1 + i]!;
  at.p += 1 + l;
  return v;
}

/** Confirmed services by code and unconfirmed ones at UNCONFIRMED_BASE + code, as the dissector reports them. */
const SERVICES: Record<number, string> = {};
CONFIRMED.forEach((name, code) => (SERVICES[code] = name));
UNCONFIRMED.forEach((name, code) => (SERVICES[UNCONFIRMED_BASE + code] = name));

/** Reinitialising a device, silencing its communication and writing its files. */
const OPERATIONS = {
  20: { kind: 'device_restart', what: 'reinitialised the device' },
  17: { kind: 'config_change', what: 'changed device communication control' },
  7: { kind: 'file_transfer', what: 'wrote a file to the device' },
} as const;

export const bacnetProtocol: ProtocolDescriptor<BacnetAnomaly> = {
  name: 'bacnet',
  title: 'BACnet',
  industrial: true,
  serverPort: { transport: 'udp', port: 47808 },
  ports: { tcp: [], udp: [47808, 47809] },
  etherTypes: [ETHERTYPE_BACNET_LLC],
  functions: SERVICES,
  operations: OPERATIONS,
  anomalies: BACNET_ANOMALIES,
  datagram: bacnet,
  link: bacnetLlc,
};
