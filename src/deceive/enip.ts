import type { DecoyIdentity } from './identity-model.js';

/**
 * EtherNet/IP as the cloned adapter answers it: ListIdentity (TCP and UDP 44818), ListServices,
 * RegisterSession, and through SendRRData the CIP identity object (class 1, instance 1): Get_Attribute_All
 * and Get_Attribute_Single. Other CIP requests get "path destination unknown".
 */
export class EnipDecoy {
  private session = 0;

  constructor(private readonly id: DecoyIdentity) {}

  /** Answers for every complete encapsulation in `buf` (TCP); null when the stream is not EtherNet/IP. */
  feed(buf: Buffer): { out: Buffer[]; rest: Buffer } | null {
    const out: Buffer[] = [];
    let p = 0;
    while (buf.length - p >= 24) {
      const len = buf.readUInt16LE(p + 2);
      if (len > 4096) return null;
      if (buf.length - p < 24 + len) break;
      const r = this.encap(buf.subarray(p, p + 24 + len), true);
      if (r !== null) out.push(r);
      p += 24 + len;
    }
    return { out, rest: buf.subarray(p) };
  }

  /** One datagram's answer (UDP carries ListIdentity and ListServices only). */
  datagram(msg: Buffer): Buffer | null {
    if (msg.length < 24) return null;
    const cmd = msg.readUInt16LE(0);
    return cmd === 0x63 || cmd === 0x04 ? this.encap(msg, false) : null;
  }

  private encap(m: Buffer, tcp: boolean): Buffer | null {
    const cmd = m.readUInt16LE(0);
    const ctx = m.subarray(12, 20);
    const reply = (data: Buffer, status = 0, session = m.readUInt32LE(4)): Buffer => {
      const h = Buffer.alloc(24);
      h.writeUInt16LE(cmd, 0);
      h.writeUInt16LE(data.length, 2);
      h.writeUInt32LE(session, 4);
      h.writeUInt32LE(status, 8);
      ctx.copy(h, 12);
      return Buffer.concat([h, data]);
    };
    switch (cmd) {
      case 0x63:
        return reply(
          Buffer.concat([u16(1), u16(0x0c), u16(this.identityItem().length), this.identityItem()]),
        );
      case 0x04: {
        const name = Buffer.alloc(16);
        name.write('Communications', 0, 'latin1');
        const item = Buffer.concat([u16(1), u16(0x0120), name]);
        return reply(Buffer.concat([u16(1), u16(0x100), u16(item.length), item]));
      }
      case 0x65:
        if (!tcp || m.length < 28) return null;
        this.session = (0x1000 + Math.floor(Math.random() * 0xefff)) >>> 0;
        return reply(m.subarray(24, 28), 0, this.session);
      case 0x66:
        this.session = 0;
        return null;
      case 0x6f:
        if (!tcp) return null;
        if (m.readUInt32LE(4) !== this.session || this.session === 0)
          return reply(Buffer.alloc(0), 0x64); // invalid session handle
        return reply(this.sendRRData(m.subarray(24)));
      default:
        return reply(Buffer.alloc(0), 0x01); // invalid or unsupported command
    }
  }

  /** Unconnected send: interface handle, timeout, a null address item and the CIP request in a data item. */
  private sendRRData(d: Buffer): Buffer {
    let cip: Buffer = Buffer.alloc(0);
    if (d.length >= 16) {
      const items = d.readUInt16LE(6);
      let p = 8;
      for (let i = 0; i < items && p + 4 <= d.length; i++) {
        const type = d.readUInt16LE(p),
          len = d.readUInt16LE(p + 2);
        if (type === 0xb2) cip = d.subarray(p + 4, p + 4 + len);
        p += 4 + len;
      }
    }
    const answer = this.cip(cip);
    return Buffer.concat([
      Buffer.alloc(4),
      u16(0),
      u16(2),
      u16(0),
      u16(0),
      u16(0xb2),
      u16(answer.length),
      answer,
    ]);
  }

  private cip(req: Buffer): Buffer {
    const service = req[0] ?? 0;
    const words = req[1] ?? 0;
    const path = req.subarray(2, 2 + words * 2);
    const status = (s: number, data: Buffer = Buffer.alloc(0)): Buffer =>
      Buffer.concat([Buffer.from([service | 0x80, 0, s, 0]), data as Uint8Array]);
    // Logical class 1 (identity), instance 1, optional attribute.
    const cls = path[0] === 0x20 ? path[1] : undefined;
    const inst = path[2] === 0x24 ? path[3] : undefined;
    if (cls !== 1 || inst !== 1) return status(0x05);
    const c = this.id.cip;
    const attrs: Record<number, Buffer> = {
      1: u16(c.vendorId),
      2: u16(c.deviceType),
      3: u16(c.productCode),
      4: Buffer.from(c.revision),
      5: u16(c.status),
      6: u32(c.serial),
      7: shortString(c.productName),
    };
    if (service === 0x01)
      return status(0, Buffer.concat([1, 2, 3, 4, 5, 6, 7].map((a) => attrs[a]!)));
    if (service === 0x0e) {
      const attr = path[4] === 0x30 ? path[5]! : -1;
      return attrs[attr] ? status(0, attrs[attr]) : status(0x14);
    }
    return status(0x08);
  }

  /** The CIP identity item of ListIdentity: protocol version, socket address, identity, state. */
  private identityItem(): Buffer {
    const c = this.id.cip;
    const sock = Buffer.alloc(16);
    sock.writeUInt16BE(2, 0);
    sock.writeUInt16BE(this.id.ports.enip ?? 0, 2);
    this.id.ip.split('.').forEach((o, i) => (sock[4 + i] = Number(o)));
    return Buffer.concat([
      u16(1),
      sock,
      u16(c.vendorId),
      u16(c.deviceType),
      u16(c.productCode),
      Buffer.from(c.revision),
      u16(c.status),
      u32(c.serial),
      shortString(c.productName),
      Buffer.from([0x03]),
    ]);
  }
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v & 0xffff);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function shortString(s: string): Buffer {
  const t = Buffer.from(s.slice(0, 32), 'latin1');
  return Buffer.concat([Buffer.from([t.length]), t]);
}
