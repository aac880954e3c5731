import type { DecoyIdentity } from './identity-model.js';

const DEVICE = 8;
const WILDCARD = 4194303;

/**
 * BACnet/IP as the cloned controller answers it: Who-Is → I-Am, and ReadProperty of its device object (what
 * bacnet-info and a BMS front end ask: identifier, name, type, vendor id and name, model, firmware,
 * application software, description, location, status, protocol version). Unknown properties and objects
 * get the standard errors.
 */
export class BacnetDecoy {
  constructor(private readonly id: DecoyIdentity) {}

  datagram(m: Buffer): Buffer | null {
    if (m.length < 6 || m[0] !== 0x81) return null;
    const fn = m[1]!;
    if (fn !== 0x0a && fn !== 0x0b) return null; // original unicast / broadcast NPDU
    let p = 4;
    if (m[p] !== 0x01) return null;
    const ctrl = m[p + 1]!;
    p += 2;
    if (ctrl & 0x80) return null; // network layer message
    if (ctrl & 0x20) p += 3 + (m[p + 2] ?? 0); // destination specifier
    if (ctrl & 0x08) p += 3 + (m[p + 2] ?? 0); // source specifier
    if (ctrl & 0x20) p += 1; // hop count
    if (p >= m.length) return null;
    const apdu = m.subarray(p);
    const type = apdu[0]! >> 4;
    if (type === 1 && apdu[1] === 0x08) return this.whoIs(apdu);
    if (type === 0 && apdu.length >= 4 && apdu[3] === 0x0c) return this.readProperty(apdu);
    return null;
  }

  private whoIs(apdu: Buffer): Buffer | null {
    // Range limits (context tags 0 and 1) when present: answer only inside them.
    if (apdu.length > 2) {
      const lo = ctxUnsigned(apdu, 2);
      const hi = lo ? ctxUnsigned(apdu, lo.next) : null;
      if (lo && hi && (this.id.bacnet.instance < lo.v || this.id.bacnet.instance > hi.v))
        return null;
    }
    const b = this.id.bacnet;
    return frame(
      Buffer.concat([
        Buffer.from([0x10, 0x00]),
        objectId(DEVICE, b.instance),
        Buffer.from([0x22, 0x05, 0xc4, 0x91, 0x03]),
        unsigned(b.vendorId),
      ]),
    );
  }

  private readProperty(apdu: Buffer): Buffer | null {
    const invoke = apdu[2]!;
    if (apdu.length < 11 || apdu[4] !== 0x0c) return null;
    const oid = apdu.readUInt32BE(5);
    const objType = oid >>> 22,
      inst = oid & 0x3fffff;
    let prop: number;
    if (apdu[9] === 0x19) prop = apdu[10]!;
    else if (apdu[9] === 0x1a && apdu.length >= 12) prop = apdu.readUInt16BE(10);
    else return null;
    const b = this.id.bacnet;
    const error = (cls: number, code: number): Buffer =>
      frame(Buffer.from([0x50, invoke, 0x0c, 0x91, cls, 0x91, code]));
    if (objType !== DEVICE || (inst !== b.instance && inst !== WILDCARD)) return error(1, 31); // object, unknown-object
    const values: Record<number, Buffer> = {
      75: objectId(DEVICE, b.instance),
      77: text(b.objectName),
      79: Buffer.from([0x91, DEVICE]),
      112: Buffer.from([0x91, 0x00]),
      121: text(b.vendorName),
      120: unsigned(b.vendorId),
      70: text(b.model),
      44: text(b.firmware),
      12: text(b.application),
      28: text(b.description),
      58: text(b.location),
      98: unsigned(1),
      139: unsigned(14),
      62: unsigned(1476),
      107: Buffer.from([0x91, 0x03]),
    };
    const v = values[prop];
    if (v === undefined) return error(2, 32); // property, unknown-property
    const propTag =
      prop < 256 ? Buffer.from([0x19, prop]) : Buffer.from([0x1a, prop >> 8, prop & 0xff]);
    return frame(
      Buffer.concat([
        Buffer.from([0x30, invoke, 0x0c, 0x0c]),
        apdu.subarray(5, 9),
        propTag,
        Buffer.from([0x3e]),
        v,
        Buffer.from([0x3f]),
      ]),
    );
  }
}

/** BVLC original-unicast around an NPDU without routing information. */
function frame(apdu: Buffer): Buffer {
  const h = Buffer.from([0x81, 0x0a, 0, 0, 0x01, 0x00]);
  h.writeUInt16BE(apdu.length + 6, 2);
  return Buffer.concat([h, apdu]);
}

function objectId(type: number, inst: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0xc4;
  b.writeUInt32BE(((type << 22) | inst) >>> 0, 1);
  return b;
}

function unsigned(v: number): Buffer {
  if (v < 0x100) return Buffer.from([0x21, v]);
  if (v < 0x10000) return Buffer.from([0x22, v >> 8, v & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0x24;
  b.writeUInt32BE(v, 1);
  return b;
}

/** Character string, UTF-8 (charset 0). */
function text(s: string): Buffer {
  const t = Buffer.from(s.slice(0, 200), 'utf8');
  const n = t.length + 1;
  const head = n <= 4 ? Buffer.from([0x70 | n]) : Buffer.from([0x75, n]);
  return Buffer.concat([head, Buffer.from([0]), t]);
}

function ctxUnsigned(b: Buffer, p: number): { v: number; next: number } | null {
  if (p >= b.length) return null;
  const len = b[p]! & 7;
  if (len < 1 || len > 4 || p + 1 + len > b.length) return null;
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + b[p + 1 + i]!;
  return { v, next: p + 1 + len };
}
